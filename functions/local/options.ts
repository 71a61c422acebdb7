import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, ENV, expected, readIntegerEnv } from '#engine/index.ts';
import { DETAILED_WORKER_DEFAULTS } from '#engine/pipeline/index.ts';
import { loadQuestionsFile } from '#engine/questions/index.ts';

/** Environment variables only the local stack reads (the shared ones live in settings.ts ENV). */
export const LOCAL_ENV = {
  HTTP_PORT: 'LOCAL_HTTP_PORT',
  S3_PORT: 'LOCAL_S3_PORT',
  SQS_PORT: 'LOCAL_SQS_PORT',
  DATA_DIR: 'LOCAL_DATA_DIR',
  INBOX_DIR: 'LOCAL_INBOX_DIR',
} as const;

/**
 * Everything `npm start` can be told. The queue semantics default to what infra/ deploys
 * (batch size, visibility timeout, maxReceiveCount) so that the laptop behaves like the account.
 */
export interface LocalOptions {
  /** Always loopback: the stack has no authentication. */
  readonly host: '127.0.0.1';
  /** 0 = any free port (tests). */
  readonly httpPort: number;
  readonly s3Port: number;
  readonly sqsPort: number;
  /** s3rver keeps objects here; survives restarts. */
  readonly dataDir: string;
  /** Watched folder; undefined = no watcher. */
  readonly inboxDir: string | undefined;
  /** Write each sidecar next to the file dropped into the inbox. */
  readonly mirror: boolean;
  readonly modelsDir: string | undefined;
  /** Download missing models at start (off in tests and when --no-fetch). */
  readonly fetchModels: boolean;
  readonly bucket: string;
  readonly inputPrefix: string;
  readonly sidecarPrefix: string;
  readonly queueName: string;
  readonly batchSize: number;
  readonly visibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
  /** How often the model directory is re-checked while captions wait for models. */
  readonly modelRecheckMs: number;
  readonly uploadMaxBytes: number | undefined;
  /** Print the banner and progress bars (off in tests). */
  readonly interactive: boolean;
  /** Run the detailed worker in a child process (as a separate Lambda is); default in this one. */
  readonly workerProcess: boolean;
  /** Questions/categories file (validated at start); undefined = env QUESTIONS_CONFIG or config/questions.json. */
  readonly questionsFile: string | undefined;
}

export const DEFAULT_LOCAL_OPTIONS: LocalOptions = Object.freeze({
  host: '127.0.0.1',
  httpPort: 8080,
  s3Port: 4568,
  sqsPort: 4576,
  dataDir: resolve('.local-data'),
  inboxDir: resolve('inbox'),
  mirror: false,
  modelsDir: undefined,
  fetchModels: true,
  bucket: 'image-describer-local',
  inputPrefix: 'images/',
  sidecarPrefix: 'descriptions/',
  queueName: 'image-describer-detailed',
  // As infra/ deploys the detailed worker: batch size, visibility timeout, receives before the DLQ.
  batchSize: DETAILED_WORKER_DEFAULTS.batchSize,
  visibilityTimeoutSeconds: DETAILED_WORKER_DEFAULTS.visibilityTimeoutSeconds,
  maxReceiveCount: DETAILED_WORKER_DEFAULTS.maxReceiveCount,
  modelRecheckMs: 5_000,
  uploadMaxBytes: undefined,
  interactive: true,
  workerProcess: false,
  questionsFile: undefined,
});

export const USAGE = `Usage: npm start -- [options]

Starts the whole pipeline on 127.0.0.1: S3 (s3rver), SQS (fauxqs), the upload API and the web page.

  --port <n>            web page and upload API (default 8080, env ${LOCAL_ENV.HTTP_PORT})
  --s3-port <n>         S3 endpoint (default 4568, env ${LOCAL_ENV.S3_PORT})
  --sqs-port <n>        SQS endpoint (default 4576, env ${LOCAL_ENV.SQS_PORT})
  --data <dir>          where uploaded objects and sidecars are kept (default .local-data)
  --inbox <dir>         watched folder, files dropped here are uploaded (default ./inbox)
  --no-inbox            do not watch a folder
  --mirror              also write each sidecar next to its file (<file>.description.json)
  --models <dir>        model set to use (default env ${ENV.MODELS_DIR} or ./models)
  --no-fetch            do not download missing models at start
  --questions <file>    questions and categories (default env ${ENV.QUESTIONS_CONFIG} or config/questions.json)
  --worker-process      run the detailed worker in its own process (less memory shared, more total)
  --help                this text
`;

function port(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new ConfigError(expected('a port number 0-65535', name, raw));
  }
  return value;
}

function prefix(raw: string | undefined, fallback: string): string {
  if (!raw) return fallback;
  return raw.endsWith('/') ? raw : `${raw}/`;
}

/** Parse argv and env once; bad values fail at start with the flag's name. */
export function readLocalOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): LocalOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string' },
      's3-port': { type: 'string' },
      'sqs-port': { type: 'string' },
      data: { type: 'string' },
      inbox: { type: 'string' },
      'no-inbox': { type: 'boolean', default: false },
      mirror: { type: 'boolean', default: false },
      models: { type: 'string' },
      'no-fetch': { type: 'boolean', default: false },
      'worker-process': { type: 'boolean', default: false },
      questions: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const d = DEFAULT_LOCAL_OPTIONS;
  const inbox = values.inbox ?? env[LOCAL_ENV.INBOX_DIR];
  const questionsFile = values.questions ? resolve(values.questions) : undefined;
  // Read now so that a bad file fails the start with the field's name, not the first image.
  if (questionsFile) loadQuestionsFile(questionsFile);
  return Object.freeze({
    ...d,
    httpPort: port(values.port ?? env[LOCAL_ENV.HTTP_PORT], '--port', d.httpPort),
    s3Port: port(values['s3-port'] ?? env[LOCAL_ENV.S3_PORT], '--s3-port', d.s3Port),
    sqsPort: port(values['sqs-port'] ?? env[LOCAL_ENV.SQS_PORT], '--sqs-port', d.sqsPort),
    dataDir: resolve(values.data ?? env[LOCAL_ENV.DATA_DIR] ?? d.dataDir),
    inboxDir: values['no-inbox'] ? undefined : resolve(inbox ?? 'inbox'),
    mirror: values.mirror,
    modelsDir: values.models ? resolve(values.models) : env[ENV.MODELS_DIR] || undefined,
    fetchModels: !values['no-fetch'],
    workerProcess: values['worker-process'],
    questionsFile,
    inputPrefix: prefix(env[ENV.INPUT_PREFIX], d.inputPrefix),
    sidecarPrefix: prefix(env[ENV.SIDECAR_PREFIX], d.sidecarPrefix),
    uploadMaxBytes: env[ENV.UPLOAD_MAX_BYTES] ? readIntegerEnv(env, ENV.UPLOAD_MAX_BYTES, 0, 1) : undefined,
  });
}
