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
  valueAtPath,
} from '../errors.ts';
import type { RgbImage } from '../image/types.ts';
import type { ModelProvenance } from '../record/schema.ts';
import { elapsedMs } from '../timing.ts';
import {
  type AnyModelSpec,
  type Architecture,
  type GenerationOptions,
  isRemoteSpec,
  localModels,
  MANIFEST_VERSION,
  type Manifest,
  type ModelSpec,
  manifestSchema,
  type RemoteModelSpec,
  TASK_NAMES,
  TASK_STAGES,
  type TaskName,
  type TaskSpec,
} from './manifest.ts';
import { provenanceOf, providerOf } from './provenance.ts';
import { clientFor, type RemoteClients, type SecretLookup } from './remote-client.ts';
import {
  type EncodedImage,
  type ImageToTextRunner,
  isTextEmbedder,
  type ModelRunner,
  type TaskAnswer,
  type TokenUsage,
} from './runner.ts';
import {
  configureTransformersEnv,
  DTYPE_SUFFIX,
  dtypeOf,
  modelFolder,
  onnxFilesFor,
  type RunnerContext,
  SESSIONS,
} from './transformers-env.ts';

type RunnerLoader = (name: string, spec: ModelSpec, context: RunnerContext) => Promise<ModelRunner>;

/** Loaded on first use, so a process that only captions never parses the other runners' code. */
const LOADERS: Record<Architecture, () => Promise<RunnerLoader>> = {
  'vision-encoder-decoder': async () =>
    (await import('./runners/vision-encoder-decoder.ts')).loadVisionEncoderDecoderRunner,
  florence2: async () => (await import('./runners/florence2.ts')).loadFlorence2Runner,
  smolvlm: async () => (await import('./runners/smolvlm.ts')).loadSmolVlmRunner,
  clip: async () => (await import('./runners/clip.ts')).loadClipRunner,
};

const FETCH_HINT =
  'run `npm run models:fetch`, or point MODELS_DIR (CLI: --models) at a model set that has it';

/** One zod issue as "Expected X for <field> in <file> but received Y". */
function issueMessage(issue: z.core.$ZodIssue, raw: unknown, file: string): string {
  const field = issue.path.length > 0 ? issue.path.join('.') : 'the manifest';
  const where = `${field} in ${file}`;
  switch (issue.code) {
    case 'invalid_type':
      return expected(
        `${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`,
        where,
        valueAtPath(raw, issue.path),
      );
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const what = values.length === 1 ? `${values[0]}` : `one of ${values.join(', ')}`;
      return expected(what, where, valueAtPath(raw, issue.path));
    }
    case 'invalid_union': {
      // A discriminated union's bad tag (models.*.architecture) lists the tags it accepts.
      const options = (issue as { options?: unknown[] }).options;
      if (Array.isArray(options)) {
        const what = `one of ${options.map((v) => JSON.stringify(v)).join(', ')}`;
        return expected(what, where, valueAtPath(raw, issue.path));
      }
      return expected(issue.message, where, valueAtPath(raw, issue.path));
    }
    case 'custom':
      return `${where}: ${issue.message}`;
    case 'unrecognized_keys':
      return expected(`only known keys`, where, `unknown key(s) ${issue.keys.join(', ')}`);
    default:
      return expected(issue.message, where, valueAtPath(raw, issue.path));
  }
}

/** Manifest checks zod cannot express: dtypes must be known and, per session, name every session. */
function checkDtypes(manifest: Manifest, file: string): void {
  const known = Object.keys(DTYPE_SUFFIX).join(', ');
  for (const [name, spec] of localModels(manifest)) {
    const field = `models.${name}`;
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
        const where = typeof spec.dtype === 'string' ? `${field}.dtype` : `${field}.dtype.${session}`;
        throw new ManifestError(expected(`one of ${known}`, `${where} in ${file}`, dtype));
      }
    }
  }
}

/** A manifest of an older format: say what changed and how to get a current one. */
function checkVersion(raw: unknown, file: string): void {
  const version = (raw as { manifestVersion?: unknown } | null)?.manifestVersion;
  if (version === 1) {
    throw new ManifestError(
      `${file} is a version 1 model manifest (modes.fast / modes.normal); this release reads version ${MANIFEST_VERSION} ` +
        '(models + tasks: caption, objects, detailed, questions). Regenerate it: copy models/manifest.json of this ' +
        'release (then `npm run models:fetch`), or for the test models run `npm run fixtures -- --out <dir>`; ' +
        'or update it by hand: each mode becomes an entry of "models" and its task/prompt/generation an entry of ' +
        '"tasks" (see docs/models.md, "Manifest v2").',
    );
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
  checkVersion(raw, file);
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
  /** The model's name in the manifest. */
  readonly model: string;
  /** The configured tasks that use it, and their stages. */
  readonly tasks: readonly TaskName[];
  readonly stages: ReadonlyArray<'fast' | 'detailed'>;
  readonly id: string;
  /** Where the model's files are expected. */
  readonly dir: string;
  /** The files that are not there, relative to `dir`. */
  readonly files: readonly string[];
}

/**
 * The encodings of ONE image, by model name: pass the same map to several `answer` calls and a
 * model's vision pass runs once for all of them. Never share one map between two images.
 */
export type ImageEncodings = Map<string, Promise<EncodedImage>>;

export interface TaskResult {
  readonly answer: TaskAnswer;
  /** What produced it: the model plus this task (or prompt). */
  readonly provenance: ModelProvenance;
  /** Vision pass time paid by this call; 0 when the image's encoding was reused. */
  readonly encodeMs: number;
  /** Decoding time of this task. */
  readonly decodeMs: number;
}

/** The tasks the pipeline always runs when configured; `questions` is asked for explicitly. */
const CORE_TASKS: readonly TaskName[] = ['caption', 'objects', 'detailed', 'embedding'];

/** What a registry needs to call remote models; without it a remote model cannot load. */
export interface RemoteAccess {
  readonly clients: RemoteClients;
  /** API keys by environment variable name. @default process.env */
  readonly secret?: SecretLookup;
}

/** Tokens a remote model used in this process, summed over its answers. */
export interface ModelTokenUsage extends TokenUsage {
  readonly answers: number;
}

/**
 * The models and tasks of one model set. A model is loaded once per process on first use and shared
 * by the tasks that name it (concurrent callers share one load; a failed load is forgotten so the
 * next call retries, e.g. after `models:fetch` filled the directory).
 */
export class ModelRegistry {
  private readonly runners = new Map<string, Promise<ModelRunner>>();
  /** How long each model took to load (ms), by model name, for start-up logs and benchmarks. */
  readonly lastLoadMs = new Map<string, number>();
  /** Tokens each remote model used, by model name (eval reports them; the price is per token). */
  readonly tokenUsage = new Map<string, ModelTokenUsage>();

  private constructor(
    readonly manifest: Manifest,
    readonly modelsDir: string,
    readonly threads: number,
    private readonly remote: RemoteAccess | undefined,
  ) {}

  static async open(options: {
    modelsDir: string;
    threads: number;
    /** Clients for remote models (createEngine wires the adapters). */
    remote?: RemoteAccess;
  }): Promise<ModelRegistry> {
    if (!Number.isInteger(options.threads) || options.threads < 0) {
      throw new ConfigError(expected('an integer >= 0', 'threads', options.threads));
    }
    const modelsDir = resolve(options.modelsDir);
    const manifest = await loadManifest(modelsDir);
    configureTransformersEnv(modelsDir);
    return new ModelRegistry(manifest, modelsDir, options.threads, options.remote);
  }

  /** Every model name of the manifest. */
  get modelNames(): string[] {
    return Object.keys(this.manifest.models);
  }

  /** The configured tasks, in pipeline order. */
  get taskNames(): TaskName[] {
    return TASK_NAMES.filter((name) => this.manifest.tasks[name] !== undefined);
  }

  /** The tasks a stage runs (questions excluded: its feature asks for it). */
  tasksOf(stage: 'fast' | 'detailed'): TaskName[] {
    return this.taskNames.filter((name) => CORE_TASKS.includes(name) && TASK_STAGES[name] === stage);
  }

  modelSpec(name: string): AnyModelSpec {
    const spec = Object.hasOwn(this.manifest.models, name) ? this.manifest.models[name] : undefined;
    if (!spec) throw new ConfigError(expected(`one of ${this.modelNames.join(', ')}`, 'model', name));
    return spec;
  }

  /** A local model's spec (its files, dtype, folder); a remote model has none of these. */
  localSpec(name: string): ModelSpec {
    const spec = this.modelSpec(name);
    if (isRemoteSpec(spec)) {
      throw new ConfigError(
        expected('a local model (files under MODELS_DIR)', 'model', `${name} (${spec.architecture})`),
      );
    }
    return spec;
  }

  /** A task's spec, or undefined when the manifest does not configure it (objects, questions). */
  taskSpec(name: TaskName): TaskSpec | undefined {
    return this.manifest.tasks[name];
  }

  /** What a task's results carry in `models`: model spec + task/prompt + generation. */
  provenance(name: TaskName, options: { prompt?: string } = {}): ModelProvenance {
    const task = this.requireTask(name);
    return provenanceOf(
      this.modelSpec(task.model),
      options.prompt ? { ...task, prompt: options.prompt } : task,
    );
  }

  /** Where a model lives: `<modelsDir>/<org>/<name>`, or where a remote one answers. */
  folder(model: string): string {
    const spec = this.modelSpec(model);
    return isRemoteSpec(spec) ? providerOf(spec) : modelFolder(spec, this.modelsDir);
  }

  /**
   * Cheap check, no loading: config.json and the onnx files of the chosen dtypes, for each model the
   * given tasks use (default: the pipeline's configured tasks — caption, objects, detailed).
   */
  missingModels(options: { stage?: 'fast' | 'detailed'; tasks?: readonly TaskName[] } = {}): MissingModel[] {
    const tasks = (options.tasks ?? CORE_TASKS).filter(
      (name) => this.manifest.tasks[name] && (!options.stage || TASK_STAGES[name] === options.stage),
    );
    const byModel = new Map<string, TaskName[]>();
    for (const name of tasks) {
      const model = this.requireTask(name).model;
      byModel.set(model, [...(byModel.get(model) ?? []), name]);
    }
    const missing: MissingModel[] = [];
    for (const [model, users] of byModel) {
      const spec = this.modelSpec(model);
      const files = this.missingFiles(spec);
      if (files.length === 0 || isRemoteSpec(spec)) continue;
      const stages = [...new Set(users.map((name) => TASK_STAGES[name]))];
      missing.push({ model, tasks: users, stages, id: spec.id, dir: this.folder(model), files });
    }
    return missing;
  }

  /** The loaded runner of a model (by manifest name); loads it on first call. */
  modelRunner(model: string): Promise<ModelRunner> {
    const loaded = this.runners.get(model);
    if (loaded) return loaded;
    const loading = this.load(model);
    this.runners.set(model, loading);
    // Forget a failed load so that the next call tries again; callers still see the rejection.
    loading.catch(() => {
      if (this.runners.get(model) === loading) this.runners.delete(model);
    });
    return loading;
  }

  /** Loads the models a stage's tasks use (Lambda init: a cold start without them fails at once). */
  async preload(stage: 'fast' | 'detailed'): Promise<void> {
    for (const model of new Set(this.tasksOf(stage).map((name) => this.requireTask(name).model))) {
      await this.modelRunner(model);
    }
  }

  /**
   * Runs one task on an image. With `encodings` (one map per image), a model's vision pass is shared
   * by every task that names it; without, this call encodes the image itself. `prompt` replaces the
   * task's prompt (one question of the questions feature) and `generation` extends the task's options
   * (a question's token limit); both are part of the returned provenance.
   */
  async answer(
    name: TaskName,
    image: RgbImage,
    options: { encodings?: ImageEncodings; prompt?: string; generation?: GenerationOptions } = {},
  ): Promise<TaskResult> {
    const task = this.requireTask(name);
    const runner = await this.modelRunner(task.model);
    const encodings = options.encodings ?? new Map();
    let pending = encodings.get(task.model);
    let encodedHere = false;
    if (!pending) {
      encodedHere = true;
      const encoding = runner.encode(image);
      pending = encoding;
      encodings.set(task.model, encoding);
      // A failed pass is not reused: the next task tries again.
      encoding.catch(() => {
        if (encodings.get(task.model) === encoding) encodings.delete(task.model);
      });
    }
    const encoded = await pending;
    const started = performance.now();
    const prompt = options.prompt ?? task.prompt;
    const generation = { ...task.generation, ...options.generation };
    const answer = await runner.run(encoded, { task: task.task, prompt, generation });
    if (answer.kind === 'text' && answer.usage) this.countTokens(task.model, answer.usage);
    return {
      answer,
      provenance: provenanceOf(this.modelSpec(task.model), { ...task, prompt, generation }),
      encodeMs: encodedHere ? encoded.encodeMs : 0,
      decodeMs: elapsedMs(started),
    };
  }

  /** A text task bound to its model, one string per image (each call runs its own vision pass). */
  async textRunner(name: TaskName): Promise<ImageToTextRunner> {
    const provenance = this.provenance(name);
    await this.modelRunner(this.requireTask(name).model);
    return {
      provenance,
      describe: async (image) => {
        const { answer } = await this.answer(name, image);
        if (answer.kind !== 'text')
          throw new ConfigError(expected('a text task', `task ${name}`, answer.kind));
        return answer.text;
      },
    };
  }

  /**
   * Texts in the embedding task's space, one unit vector each. Throws ModelNotFoundError when its
   * model is not installed and ConfigError when the manifest configures no embedding task.
   */
  async embedTexts(texts: readonly string[]): Promise<Float32Array[]> {
    const task = this.requireTask('embedding');
    const runner = await this.modelRunner(task.model);
    if (!isTextEmbedder(runner)) {
      throw new ConfigError(
        expected('a model with a text tower (clip)', 'tasks.embedding.model', task.model),
      );
    }
    return runner.embedTexts(texts);
  }

  /** Releases every loaded onnxruntime session; later calls load afresh. */
  async dispose(): Promise<void> {
    const loading = [...this.runners.values()];
    this.runners.clear();
    const settled = await Promise.allSettled(loading);
    await Promise.all(
      settled.map((result) => (result.status === 'fulfilled' ? result.value.dispose() : undefined)),
    );
  }

  private requireTask(name: TaskName): TaskSpec {
    const task = this.manifest.tasks[name];
    if (!task) {
      throw new ConfigError(
        expected(`one of the configured tasks ${this.taskNames.join(', ')}`, 'task', name),
      );
    }
    return task;
  }

  private countTokens(model: string, usage: TokenUsage): void {
    const sum = this.tokenUsage.get(model) ?? { inputTokens: 0, outputTokens: 0, answers: 0 };
    this.tokenUsage.set(model, {
      inputTokens: sum.inputTokens + usage.inputTokens,
      outputTokens: sum.outputTokens + usage.outputTokens,
      answers: sum.answers + 1,
    });
  }

  /** Remote models have no files: nothing is ever missing. */
  private missingFiles(spec: AnyModelSpec): string[] {
    if (isRemoteSpec(spec)) return [];
    const dir = modelFolder(spec, this.modelsDir);
    return ['config.json', ...onnxFilesFor(spec)].filter((file) => !existsSync(join(dir, file)));
  }

  private usersOf(model: string): TaskName[] {
    return this.taskNames.filter((name) => this.manifest.tasks[name]?.model === model);
  }

  private async loadRemote(model: string, spec: RemoteModelSpec): Promise<ModelRunner> {
    if (!this.remote) {
      throw new ConfigError(
        `Model "${model}" is ${spec.architecture}, but this registry was opened without remote clients (createEngine wires them)`,
      );
    }
    const secret = this.remote.secret ?? ((name: string) => process.env[name]);
    if (spec.architecture === 'openai-compatible' && spec.apiKeyEnv && !secret(spec.apiKeyEnv)) {
      throw new ConfigError(
        expected(
          `an API key for model "${model}" (${providerOf(spec)})`,
          `environment variable ${spec.apiKeyEnv}`,
          undefined,
        ),
      );
    }
    const { createRemoteRunner } = await import('./runners/remote.ts');
    return createRemoteRunner(model, spec, await clientFor(this.remote.clients, spec, secret));
  }

  private async load(model: string): Promise<ModelRunner> {
    const anySpec = this.modelSpec(model);
    if (isRemoteSpec(anySpec)) return this.loadRemote(model, anySpec);
    const spec: ModelSpec = anySpec;
    const dir = modelFolder(spec, this.modelsDir);
    const users = this.usersOf(model);
    const label = users.length > 0 ? `${model}, for ${users.join(', ')}` : model;
    const missing = this.missingFiles(spec);
    if (missing.length > 0) {
      const what = existsSync(dir) ? `is incomplete (missing ${missing.join(', ')})` : 'is not there';
      throw new ModelNotFoundError(
        `Model ${spec.id} (${label}) is not in the model directory: ${dir} ${what}; ${FETCH_HINT}`,
      );
    }
    const started = performance.now();
    try {
      const loader = await LOADERS[spec.architecture]();
      const runner = await loader(model, spec, { modelsDir: this.modelsDir, threads: this.threads });
      this.lastLoadMs.set(model, elapsedMs(started));
      return runner;
    } catch (error) {
      if (error instanceof DescribeError) throw error;
      throw new ModelLoadError(
        `Could not load model ${spec.id} (${label}, ${spec.architecture}, dtype ${JSON.stringify(spec.dtype)}) from ${dir}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
}
