# syntax=docker/dockerfile:1
#
# The describe functions' container image (arm64), one Dockerfile for both:
#   --target fast      describe-fast handler + the fast-mode model   (S3 event → caption, colours, text)
#   --target detailed  describe-detailed handler + the normal model  (SQS job → detailed description)
# Built by CDK (infra/describer-image.ts) from the repository root, equivalent to:
#   docker buildx build --platform linux/arm64 -f layers/docker/describe.Dockerfile --target fast \
#     --build-arg MODEL_ID=onnx-community/Florence-2-base-ft \
#     --build-context model=models/onnx-community/Florence-2-base-ft \
#     --build-context extra_model=layers/docker/no-extra-model .
# With questions configured the detailed target also gets the questions model:
#     --build-arg EXTRA_MODEL_ID=HuggingFaceTB/SmolVLM-256M-Instruct \
#     --build-context extra_model=models/HuggingFaceTB/SmolVLM-256M-Instruct
# Run `npm run models:fetch` first: the model folder comes from the named build context "model"
# (the root .dockerignore keeps all model weights out of the main context) and is never downloaded
# at runtime.
#
# Layer order = change frequency: base image → production node_modules (native sharp/onnxruntime,
# changes with package-lock.json) → model (changes with the manifest) → bundled code (every commit).
# A code change therefore rebuilds and uploads only the last, small layer.

ARG BASE_IMAGE=public.ecr.aws/lambda/nodejs:22

# ---- build: bundle the handlers with esbuild (dev dependencies stay in this stage) ----
# The bundle is plain JavaScript: build it on the builder's own platform (no QEMU emulation).
FROM --platform=$BUILDPLATFORM ${BASE_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY layers/ layers/
COPY functions/ functions/
RUN npm run bundle

# ---- deps: production node_modules for linux/arm64 (sharp's @img/sharp-linux-arm64, onnxruntime-node) ----
FROM ${BASE_IMAGE} AS deps
WORKDIR /deps
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: onnxruntime-node's install script only fetches GPU providers; the CPU binaries ship in the package.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin \
           node_modules/onnxruntime-node/bin/napi-v6/win32 \
           node_modules/onnxruntime-node/bin/napi-v6/linux/x64 \
 && npm cache clean --force
# Fail the build, not the first invocation, if a native module does not load on this platform.
RUN node --input-type=module -e "await import('sharp'); await import('onnxruntime-node'); console.log('native modules load on', process.arch)"

# ---- runtime: what Lambda runs ----
FROM ${BASE_IMAGE} AS runtime
ENV NODE_ENV=production \
    MODELS_DIR=/opt/models \
    NODE_OPTIONS=--enable-source-maps
COPY --from=deps /deps/node_modules ${LAMBDA_TASK_ROOT}/node_modules
# The model for this image's mode, plus the manifest that names it (read-only at runtime).
ARG MODEL_ID
RUN test -n "${MODEL_ID}" || (echo "MODEL_ID build arg is required (org/name from models/manifest.json)" && exit 1)
COPY models/manifest.json /opt/models/manifest.json
COPY --from=model . /opt/models/${MODEL_ID}/
# The questions model, in the worker when questions are configured; otherwise an empty folder.
ARG EXTRA_MODEL_ID=.no-extra-model
COPY --from=extra_model . /opt/models/${EXTRA_MODEL_ID}/
# Last and smallest: the bundled handlers (dist/functions/*.mjs + source maps).
COPY --from=build /build/dist/functions/ ${LAMBDA_TASK_ROOT}/dist/functions/

FROM runtime AS fast
CMD ["dist/functions/describe-fast.handler"]

FROM runtime AS detailed
CMD ["dist/functions/describe-detailed.handler"]
