import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, IgnoreMode } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { ConfigError, expected, ManifestError } from '#engine/errors.ts';
import { manifestSchema } from '#engine/models/manifest.ts';

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const DEFAULT_MODELS_DIR = join(REPO_ROOT, 'models');
/** One Dockerfile, two targets (fast, detailed) sharing the dependency layers. */
export const DOCKERFILE = 'layers/docker/describe.Dockerfile';

export type ImageTarget = 'fast' | 'detailed';

export interface ModelIds {
  /** The model the fast stage runs (manifest `modes.fast`). */
  readonly fast: string;
  /** The model the detailed stage runs (manifest `modes.normal`). */
  readonly normal: string;
}

/** The model ids of the production manifest (models/manifest.json), which `npm run models:fetch` downloads. */
export function readModelIds(modelsDir = DEFAULT_MODELS_DIR): ModelIds {
  const file = join(modelsDir, 'manifest.json');
  if (!existsSync(file)) {
    throw new ConfigError(expected('the production model manifest', file, undefined));
  }
  const parsed = manifestSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new ManifestError(expected('a valid model manifest', file, parsed.error.message));
  }
  return { fast: parsed.data.modes.fast.id, normal: parsed.data.modes.normal.id };
}

/**
 * Model folders (`models/<org>/<name>`) present on disk other than `keepId`: excluded from the image's
 * build context so that each image (and cdk.out) carries only its own model.
 */
export function otherModelFolders(modelsDir: string, keepId: string): string[] {
  if (!existsSync(modelsDir)) return [];
  const folders: string[] = [];
  for (const org of readdirSync(modelsDir, { withFileTypes: true })) {
    if (!org.isDirectory() || org.name === 'fixtures') continue;
    for (const name of readdirSync(join(modelsDir, org.name), { withFileTypes: true })) {
      if (!name.isDirectory()) continue;
      const id = `${org.name}/${name.name}`;
      if (id !== keepId) folders.push(`models/${id}`);
    }
  }
  return folders.sort();
}

export interface DescriberImageOptions {
  /** `fast` (describe-fast handler) or `detailed` (describe-detailed handler). */
  readonly target: ImageTarget;
  /** The model folder baked into the image (`models/<modelId>`). */
  readonly modelId: string;
  /** @default the repository root */
  readonly repoRoot?: string;
}

/**
 * The container image of a describe function, built from the repository root with
 * layers/docker/describe.Dockerfile for arm64. The root .dockerignore keeps node_modules, test output
 * and cdk.out out of the build context; the other mode's model folder is excluded here.
 */
export function describerImageCode(
  scope: IConstruct,
  options: DescriberImageOptions,
): lambda.DockerImageCode {
  const repoRoot = options.repoRoot ?? REPO_ROOT;
  if (!/^[\w.-]+\/[\w.-]+$/.test(options.modelId)) {
    throw new ConfigError(expected('a model id like org/name', 'modelId', options.modelId));
  }
  const modelsDir = join(repoRoot, 'models');
  if (!existsSync(join(modelsDir, options.modelId))) {
    Annotations.of(scope).addWarningV2(
      'image-describer:models-not-fetched',
      `models/${options.modelId} is missing: run "npm run models:fetch" before "cdk deploy" (the ${options.target} image bakes it in)`,
    );
  }
  return lambda.DockerImageCode.fromImageAsset(repoRoot, {
    file: DOCKERFILE,
    target: options.target,
    buildArgs: { MODEL_ID: options.modelId },
    platform: Platform.LINUX_ARM64,
    ignoreMode: IgnoreMode.DOCKER,
    exclude: otherModelFolders(modelsDir, options.modelId),
  });
}
