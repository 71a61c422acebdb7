import { ConfigError, expected } from './errors.ts';
import { packagePath } from './package-root.ts';
import { type QuestionsConfig, readQuestionsConfig } from './questions/config.ts';

/**
 * Environment variable names, shared by infra/ (which sets them) and the entry points (which read
 * them once at start-up). Change a name here and both sides follow.
 */
export const ENV = {
  MODELS_DIR: 'MODELS_DIR',
  ORT_THREADS: 'ORT_THREADS',
  MAX_INPUT_BYTES: 'MAX_INPUT_BYTES',
  MAX_INPUT_PIXELS: 'MAX_INPUT_PIXELS',
  WORKING_SIZE: 'WORKING_SIZE',
  OCR_STAGE: 'OCR_STAGE',
  /** The deployment's questions and categories: inline JSON or a file path (questions/config.ts). */
  QUESTIONS_CONFIG: 'QUESTIONS_CONFIG',
  BUCKET_NAME: 'BUCKET_NAME',
  INPUT_PREFIX: 'INPUT_PREFIX',
  SIDECAR_PREFIX: 'SIDECAR_PREFIX',
  DETAILED_QUEUE_URL: 'DETAILED_QUEUE_URL',
  UPLOAD_MAX_BYTES: 'UPLOAD_MAX_BYTES',
  LOG_LEVEL: 'LOG_LEVEL',
  /** Athena search (upload API): workgroup, Glue database and table. */
  SEARCH_WORKGROUP: 'SEARCH_WORKGROUP',
  SEARCH_DATABASE: 'SEARCH_DATABASE',
  SEARCH_TABLE: 'SEARCH_TABLE',
  /** S3 Vectors (search by meaning in AWS): the ARN of the index the image vectors go to. */
  VECTOR_INDEX_ARN: 'VECTOR_INDEX_ARN',
  /**
   * The Secrets Manager secret holding a remote model's API key (AWS); read once at cold start and
   * used in place of the manifest's `apiKeyEnv` variable.
   */
  REMOTE_API_KEY_SECRET_ARN: 'REMOTE_API_KEY_SECRET_ARN',
} as const;

export const DEFAULT_MODELS_DIR = `${packagePath('models')}/`;

export type OcrStage = 'fast' | 'detailed' | 'off';

export interface EngineSettings {
  /** Model set directory: manifest.json plus one folder per model id. */
  readonly modelsDir: string;
  /** onnxruntime intra-op threads for every model; 0 = one per core. */
  readonly threads: number;
  /** Refuse inputs larger than this before decoding anything. */
  readonly maxInputBytes: number;
  /** sharp limitInputPixels: refuse images declaring more pixels (decompression bombs). */
  readonly maxInputPixels: number;
  /** Longest side of the pixels OCR reads; a stage without OCR uses at most the caption models' 768. */
  readonly workingSize: number;
  /**
   * Which stage reads text. Measured: ~440 ms CPU for a 1 MP image with ten lines on 2 cores, but
   * a page of small print takes up to the reader's 10 s budget, far over the 500 ms the fast stage
   * may spend, so text comes with the detailed stage (see docs/ocr.md).
   */
  readonly ocrStage: OcrStage;
  /** Questions the detailed stage asks and categories every record is scored against; absent = none. */
  readonly questions?: QuestionsConfig;
}

export const DEFAULT_ENGINE_SETTINGS: Omit<EngineSettings, 'modelsDir'> = {
  threads: 0,
  maxInputBytes: 50 * 1024 * 1024,
  maxInputPixels: 100_000_000,
  workingSize: 1024,
  ocrStage: 'detailed',
};

/** Environment variables as the readers take them (process.env, or an object of the caller's). */
export type Env = Readonly<Record<string, string | undefined>>;

export function readIntegerEnv(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(expected(`an integer >= ${min}`, name, raw));
  }
  return value;
}

export function readRequiredEnv(env: Env, name: string): string {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') {
    throw new ConfigError(expected('a non-empty value', `environment variable ${name}`, raw));
  }
  return raw;
}

function readOcrStage(env: Env): OcrStage {
  const raw = env[ENV.OCR_STAGE];
  if (raw === undefined || raw === '') return DEFAULT_ENGINE_SETTINGS.ocrStage;
  if (raw === 'fast' || raw === 'detailed' || raw === 'off') return raw;
  throw new ConfigError(expected('fast, detailed or off', ENV.OCR_STAGE, raw));
}

/** The model set a command uses: `--models` when given, else MODELS_DIR, else the package's models/. */
export function readModelsDir(env: Env, option?: string): string {
  return option || env[ENV.MODELS_DIR] || DEFAULT_MODELS_DIR;
}

/** Read once at start-up; a bad value fails fast with the variable's name. */
export function readEngineSettings(
  env: Env = process.env,
  overrides: Partial<EngineSettings> = {},
): EngineSettings {
  return Object.freeze({
    modelsDir: readModelsDir(env),
    threads: readIntegerEnv(env, ENV.ORT_THREADS, DEFAULT_ENGINE_SETTINGS.threads),
    maxInputBytes: readIntegerEnv(env, ENV.MAX_INPUT_BYTES, DEFAULT_ENGINE_SETTINGS.maxInputBytes, 1),
    maxInputPixels: readIntegerEnv(env, ENV.MAX_INPUT_PIXELS, DEFAULT_ENGINE_SETTINGS.maxInputPixels, 1),
    workingSize: readIntegerEnv(env, ENV.WORKING_SIZE, DEFAULT_ENGINE_SETTINGS.workingSize, 64),
    ocrStage: readOcrStage(env),
    questions: readQuestionsConfig(env[ENV.QUESTIONS_CONFIG], ENV.QUESTIONS_CONFIG),
    ...overrides,
  });
}
