import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, IgnoreMode } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { ConfigError, expected, ManifestError } from '#engine/index.ts';
import {
  type AnyModelSpec,
  isRemoteSpec,
  manifestSchema,
  type RemoteModelSpec,
} from '#engine/models/index.ts';

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const DEFAULT_MODELS_DIR = join(REPO_ROOT, 'models');
/** One Dockerfile, two targets (fast, detailed) sharing the dependency layers. */
export const DOCKERFILE = 'layers/docker/describe.Dockerfile';

export type ImageTarget = 'fast' | 'detailed';

/** A model baked into an image: its folder under models/ and what identifies its files. */
export interface ModelRef {
  /** Hugging Face id = folder `models/<id>`. */
  readonly id: string;
  /** Revision, dtype and file list from the manifest: a change rebuilds the image's model layer. */
  readonly version: string;
  /** A remote model: nothing to bake in; the stack grants access to it instead. */
  readonly remote?: RemoteModelSpec;
}

export interface ModelRefs {
  /** The model the fast stage runs (manifest `tasks.caption.model`, also used for objects). */
  readonly fast: ModelRef;
  /** The model the detailed stage runs (manifest `tasks.detailed.model`). */
  readonly normal: ModelRef;
  /** The prompt-capable model that answers questions (manifest `tasks.questions.model`), if any. */
  readonly questions?: ModelRef;
  /** The image-embedding model the fast stage also runs (manifest `tasks.embedding.model`), if any. */
  readonly embedding?: ModelRef;
  /** The length of its vectors (manifest `tasks.embedding.dimensions`): the vector index's dimension. */
  readonly embeddingDimensions?: number;
}

/** The synth warning (an error with `requireModels`) for a model folder `npm run models:fetch` has not written. */
export const MODELS_NOT_FETCHED = 'image-describer:models-not-fetched';

/** An empty folder: the `extra_model` build context of an image that carries no second model. */
export const NO_EXTRA_MODEL_DIR = 'layers/docker/no-extra-model';

/** The models of the production manifest (models/manifest.json), which `npm run models:fetch` downloads. */
export function readModelRefs(modelsDir = DEFAULT_MODELS_DIR): ModelRefs {
  const file = join(modelsDir, 'manifest.json');
  if (!existsSync(file)) {
    throw new ConfigError(expected('the production model manifest', file, undefined));
  }
  const parsed = manifestSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new ManifestError(expected('a valid model manifest', file, parsed.error.message));
  }
  const { models, tasks } = parsed.data;
  const ref = (spec: AnyModelSpec, name: string): ModelRef =>
    isRemoteSpec(spec)
      ? { id: `remote/${name}`, version: JSON.stringify(spec), remote: spec }
      : {
          id: spec.id,
          version: JSON.stringify({ revision: spec.revision, dtype: spec.dtype, files: spec.files ?? [] }),
        };
  const modelOf = (name: string): AnyModelSpec => {
    const spec = models[name];
    if (!spec) throw new ManifestError(expected(`a model named in ${file}`, 'tasks.*.model', name));
    return spec;
  };
  // Each function image carries the model of its stage's tasks (fast: caption and objects share one).
  const refOf = (name: string) => ref(modelOf(name), name);
  const embeddingModel = tasks.embedding?.model;
  const refs = {
    fast: refOf(tasks.caption.model),
    normal: refOf(tasks.detailed.model),
    ...(embeddingModel && embeddingModel !== tasks.caption.model ? { embedding: refOf(embeddingModel) } : {}),
    ...(tasks.embedding?.dimensions ? { embeddingDimensions: tasks.embedding.dimensions } : {}),
  };
  const questionsModel = tasks.questions?.model;
  if (!questionsModel || questionsModel === tasks.detailed.model) return refs;
  return { ...refs, questions: refOf(questionsModel) };
}

export interface DescriberImageOptions {
  /** `fast` (describe-fast handler) or `detailed` (describe-detailed handler). */
  readonly target: ImageTarget;
  /** The model baked into the image, from `models/<id>`. */
  readonly model: ModelRef;
  /**
   * A second model for the same image (the embedding model in the fast image, the questions model
   * in the worker when questions are configured), from `models/<id>`. @default none
   */
  readonly extraModel?: ModelRef;
  /** @default the repository root */
  readonly repoRoot?: string;
  /**
   * A missing model folder is an error that stops `cdk deploy` before any image is built (`npm run
   * deploy` sets this), instead of a warning that lets `cdk synth` run for review without models.
   * @default false
   */
  readonly requireModels?: boolean;
  /**
   * Run another handler of the same image (the search function runs the fast image with
   * search-api.handler); the image, and so its asset, stays the same.
   * @default the target's CMD
   */
  readonly cmd?: readonly string[];
}

/**
 * The container image of a describe function, built for arm64 with layers/docker/describe.Dockerfile.
 * The build context is the repository root minus .dockerignore (no node_modules, no model weights):
 * that is all cdk.out receives. The model folder enters as the named build context `model`, read in
 * place by Docker at deploy time, so synth never copies hundreds of MB; its manifest version is in the
 * asset hash so that a model upgrade rebuilds the image.
 */
export function describerImageCode(
  scope: IConstruct,
  options: DescriberImageOptions,
): lambda.DockerImageCode {
  const repoRoot = options.repoRoot ?? REPO_ROOT;
  const { id, version } = options.model;
  if (!/^[\w.-]+\/[\w.-]+$/.test(id)) {
    throw new ConfigError(expected('a model id like org/name', 'model.id', id));
  }
  const extra = options.extraModel;
  if (extra && !/^[\w.-]+\/[\w.-]+$/.test(extra.id)) {
    throw new ConfigError(expected('a model id like org/name', 'extraModel.id', extra.id));
  }
  const modelDirOf = (ref: ModelRef, fetchHint: string) => {
    // A remote model is called over the network: its folder in the image stays empty.
    if (ref.remote) return join(repoRoot, NO_EXTRA_MODEL_DIR);
    const dir = join(repoRoot, 'models', ref.id);
    if (!existsSync(dir)) {
      const message = `models/${ref.id} is missing: run "${fetchHint}" before deploying (the ${options.target} image bakes it in)`;
      if (options.requireModels) Annotations.of(scope).addError(message);
      else Annotations.of(scope).addWarningV2(MODELS_NOT_FETCHED, message);
    }
    return dir;
  };
  const modelDir = modelDirOf(options.model, 'npm run models:fetch');
  const extraDir = extra
    ? // The fast image's extra model (embeddings) is in the default fetch; the questions model is not.
      modelDirOf(extra, options.target === 'fast' ? 'npm run models:fetch' : 'npm run models:fetch -- --all')
    : join(repoRoot, NO_EXTRA_MODEL_DIR);
  return lambda.DockerImageCode.fromImageAsset(repoRoot, {
    file: DOCKERFILE,
    target: options.target,
    buildArgs: extra ? { MODEL_ID: id, EXTRA_MODEL_ID: extra.id } : { MODEL_ID: id },
    buildContexts: { model: modelDir, extra_model: extraDir },
    platform: Platform.LINUX_ARM64,
    ignoreMode: IgnoreMode.DOCKER,
    extraHash: extra ? `${id} ${version} + ${extra.id} ${extra.version}` : `${id} ${version}`,
    // The absolute path differs per machine; the model's identity is in extraHash instead.
    invalidation: { buildContexts: false },
    ...(options.cmd ? { cmd: [...options.cmd] } : {}),
  });
}
