import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import {
  ConfigError,
  DescribeError,
  expected,
  ManifestError,
  ModelLoadError,
  ModelNotFoundError,
} from '../errors.ts';
import type { ModelProvenance } from '../record/schema.ts';
import {
  type Architecture,
  type Manifest,
  type ModelMode,
  type ModelSpec,
  manifestSchema,
} from './manifest.ts';
import { provenanceOf } from './provenance.ts';
import type { ImageToTextRunner } from './runner.ts';
import {
  configureTransformersEnv,
  DTYPE_SUFFIX,
  dtypeOf,
  modelFolder,
  onnxFilesFor,
  type RunnerContext,
  SESSIONS,
} from './transformers-env.ts';

type RunnerLoader = (spec: ModelSpec, context: RunnerContext) => Promise<ImageToTextRunner>;

/** Loaded on first use, so a process that only captions never parses the other runners' code. */
const LOADERS: Record<Architecture, () => Promise<RunnerLoader>> = {
  'vision-encoder-decoder': async () =>
    (await import('./runners/vision-encoder-decoder.ts')).loadVisionEncoderDecoderRunner,
  florence2: async () => (await import('./runners/florence2.ts')).loadFlorence2Runner,
  smolvlm: async () => (await import('./runners/smolvlm.ts')).loadSmolVlmRunner,
};

const FETCH_HINT =
  'run `npm run models:fetch`, or point MODELS_DIR (CLI: --models) at a model set that has it';

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** One zod issue as "Expected X for <field> in <file> but received Y". */
function issueMessage(issue: z.core.$ZodIssue, raw: unknown, file: string): string {
  const field = issue.path.length > 0 ? issue.path.join('.') : 'the manifest';
  const where = `${field} in ${file}`;
  switch (issue.code) {
    case 'invalid_type':
      return expected(
        `${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`,
        where,
        valueAt(raw, issue.path),
      );
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const what = values.length === 1 ? `${values[0]}` : `one of ${values.join(', ')}`;
      return expected(what, where, valueAt(raw, issue.path));
    }
    case 'custom':
      return `${where}: ${issue.message}`;
    case 'unrecognized_keys':
      return expected(`only known keys`, where, `unknown key(s) ${issue.keys.join(', ')}`);
    default:
      return expected(issue.message, where, valueAt(raw, issue.path));
  }
}

/** Manifest checks zod cannot express: dtypes must be known and, per session, name every session. */
function checkDtypes(manifest: Manifest, file: string): void {
  const entries: Array<[string, ModelSpec]> = [
    ['modes.fast', manifest.modes.fast],
    ['modes.normal', manifest.modes.normal],
    ...Object.entries(manifest.extra).map(([name, spec]): [string, ModelSpec] => [`extra.${name}`, spec]),
  ];
  const known = Object.keys(DTYPE_SUFFIX).join(', ');
  for (const [field, spec] of entries) {
    for (const session of SESSIONS[spec.architecture]) {
      const dtype = dtypeOf(spec, session);
      if (dtype === undefined) {
        throw new ManifestError(
          expected(
            `a dtype for session ${session} (${spec.architecture} has ${SESSIONS[spec.architecture].join(', ')})`,
            `${field}.dtype in ${file}`,
            spec.dtype,
          ),
        );
      }
      if (!(dtype in DTYPE_SUFFIX)) {
        const name = typeof spec.dtype === 'string' ? `${field}.dtype` : `${field}.dtype.${session}`;
        throw new ManifestError(expected(`one of ${known}`, `${name} in ${file}`, dtype));
      }
    }
  }
}

/** Reads and validates `<modelsDir>/manifest.json`; every failure names the file and the first bad field. */
export async function loadManifest(modelsDir: string): Promise<Manifest> {
  const dir = resolve(modelsDir);
  const file = join(dir, 'manifest.json');
  const dirStat = await stat(dir).catch(() => undefined);
  if (!dirStat?.isDirectory()) {
    throw new ManifestError(
      `${expected('a model set directory (manifest.json plus model folders)', 'MODELS_DIR', modelsDir)}, which does not exist; ${FETCH_HINT} (test models: npm run fixtures -- --out <dir>)`,
    );
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ManifestError(
      `Expected a model manifest at ${file} but it cannot be read (${(error as NodeJS.ErrnoException).code ?? error}); ${FETCH_HINT}`,
      {
        cause: error,
      },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(`Expected JSON in ${file} but it does not parse: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const [first] = parsed.error.issues;
    throw new ManifestError(first ? issueMessage(first, raw, file) : `Expected a valid manifest in ${file}`, {
      cause: parsed.error,
    });
  }
  checkDtypes(parsed.data, file);
  return parsed.data;
}

export interface MissingModel {
  /** fast, normal or the extra model's name. */
  readonly mode: string;
  readonly id: string;
  /** Where the model's files are expected. */
  readonly dir: string;
  /** The files that are not there, relative to `dir`. */
  readonly files: readonly string[];
}

/**
 * The models of one model set: which spec each mode uses, and the loaded runners — each loaded once
 * per process on first use (concurrent callers share one load; a failed load is forgotten so the next
 * call retries, e.g. after `models:fetch` filled the directory).
 */
export class ModelRegistry {
  private readonly runners = new Map<string, Promise<ImageToTextRunner>>();
  /** How long each mode's model took to load (ms), for start-up logs and benchmarks. */
  readonly lastLoadMs = new Map<string, number>();

  private constructor(
    readonly manifest: Manifest,
    readonly modelsDir: string,
    readonly threads: number,
  ) {}

  static async open(options: { modelsDir: string; threads: number }): Promise<ModelRegistry> {
    if (!Number.isInteger(options.threads) || options.threads < 0) {
      throw new ConfigError(expected('an integer >= 0', 'threads', options.threads));
    }
    const modelsDir = resolve(options.modelsDir);
    const manifest = await loadManifest(modelsDir);
    configureTransformersEnv(modelsDir);
    return new ModelRegistry(manifest, modelsDir, options.threads);
  }

  /** Every name `runner()` accepts: the two modes, then the extra models. */
  get names(): string[] {
    return ['fast', 'normal', ...Object.keys(this.manifest.extra)];
  }

  /** The spec of a mode (fast, normal) or of an extra model by name. */
  spec(mode: ModelMode | string): ModelSpec {
    if (mode === 'fast' || mode === 'normal') return this.manifest.modes[mode];
    const extra = Object.hasOwn(this.manifest.extra, mode) ? this.manifest.extra[mode] : undefined;
    if (!extra) throw new ConfigError(expected(`one of ${this.names.join(', ')}`, 'model', mode));
    return extra;
  }

  provenance(mode: ModelMode | string): ModelProvenance {
    return provenanceOf(this.spec(mode));
  }

  /** Where a mode's model lives: `<modelsDir>/<org>/<name>`. */
  folder(mode: ModelMode | string): string {
    return modelFolder(this.spec(mode), this.modelsDir);
  }

  /** Cheap check, no loading: config.json and the onnx files of the chosen dtypes, per model. */
  missingModels(): MissingModel[] {
    const missing: MissingModel[] = [];
    for (const mode of this.names) {
      const files = this.missingFiles(this.spec(mode));
      if (files.length > 0) missing.push({ mode, id: this.spec(mode).id, dir: this.folder(mode), files });
    }
    return missing;
  }

  /** The loaded runner for a mode or extra model; loads it on first call. */
  runner(mode: ModelMode | string): Promise<ImageToTextRunner> {
    const loaded = this.runners.get(mode);
    if (loaded) return loaded;
    const loading = this.load(mode);
    this.runners.set(mode, loading);
    // Forget a failed load so that the next call tries again; callers still see the rejection.
    loading.catch(() => {
      if (this.runners.get(mode) === loading) this.runners.delete(mode);
    });
    return loading;
  }

  /** Releases every loaded onnxruntime session; later runner() calls load afresh. */
  async dispose(): Promise<void> {
    const loading = [...this.runners.values()];
    this.runners.clear();
    const settled = await Promise.allSettled(loading);
    await Promise.all(
      settled.map((result) => (result.status === 'fulfilled' ? result.value.dispose() : undefined)),
    );
  }

  private missingFiles(spec: ModelSpec): string[] {
    const dir = modelFolder(spec, this.modelsDir);
    return ['config.json', ...onnxFilesFor(spec)].filter((file) => !existsSync(join(dir, file)));
  }

  private async load(mode: string): Promise<ImageToTextRunner> {
    const spec = this.spec(mode);
    const dir = modelFolder(spec, this.modelsDir);
    const missing = this.missingFiles(spec);
    if (missing.length > 0) {
      const what = existsSync(dir) ? `is incomplete (missing ${missing.join(', ')})` : 'is not there';
      throw new ModelNotFoundError(
        `Model ${spec.id} (${mode}) is not in the model directory: ${dir} ${what}; ${FETCH_HINT}`,
      );
    }
    const started = performance.now();
    try {
      const loader = await LOADERS[spec.architecture]();
      const runner = await loader(spec, { modelsDir: this.modelsDir, threads: this.threads });
      this.lastLoadMs.set(mode, Math.round(performance.now() - started));
      return runner;
    } catch (error) {
      if (error instanceof DescribeError) throw error;
      throw new ModelLoadError(
        `Could not load model ${spec.id} (${mode}, ${spec.architecture}, dtype ${JSON.stringify(spec.dtype)}) from ${dir}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
