import { RemovalPolicy } from 'aws-cdk-lib';
import type { Node } from 'constructs';
import { ConfigError, expected, type OcrStage } from '#engine/index.ts';
import { DEFAULT_QUESTIONS_FILE, loadQuestionsFile } from '#engine/questions/index.ts';
import type { ImageDescriberStackProps } from './image-describer-stack.ts';

/**
 * The `-c key=value` / cdk.json context switches, read once and validated. Every key is optional;
 * unset keys keep the constructs' defaults.
 */
export const CONTEXT_KEYS = {
  stackName: 'stackName',
  inputPrefix: 'inputPrefix',
  sidecarPrefix: 'sidecarPrefix',
  fastMemoryMB: 'fastMemoryMB',
  fastReservedConcurrency: 'fastReservedConcurrency',
  detailedMemoryMB: 'detailedMemoryMB',
  detailedMaxConcurrency: 'detailedMaxConcurrency',
  jwtIssuer: 'jwtIssuer',
  jwtAudience: 'jwtAudience',
  corsOrigins: 'corsOrigins',
  apiRateLimit: 'apiRateLimit',
  apiBurstLimit: 'apiBurstLimit',
  uploadMaxBytes: 'uploadMaxBytes',
  ocrStage: 'ocrStage',
  alarmTopicArn: 'alarmTopicArn',
  bucketRemovalPolicy: 'bucketRemovalPolicy',
  /** Path of the questions/categories file. @default config/questions.json */
  questions: 'questions',
  /** `true`: a model folder missing under models/ fails the synth (set by `npm run deploy`). @default false */
  requireModels: 'requireModels',
  /** An existing Secrets Manager secret with a remote model's API key. @default - the stack makes one */
  remoteApiKeySecretArn: 'remoteApiKeySecretArn',
} as const;

/**
 * Lambda allows 4 KB of environment variables in all; the questions config travels in one of them
 * (a bundled function has no repo files), so it gets at most 3 KB of that.
 */
export const MAX_QUESTIONS_CONFIG_BYTES = 3072;

/** The questions file validated at synth (a bad one fails `cdk synth`), as compact JSON for both functions. */
export function questionsConfigFromContext(node: Context): string {
  const file = text(node, CONTEXT_KEYS.questions) ?? DEFAULT_QUESTIONS_FILE;
  const json = JSON.stringify(loadQuestionsFile(file));
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_QUESTIONS_CONFIG_BYTES) {
    throw new ConfigError(
      expected(
        `a questions config of at most ${MAX_QUESTIONS_CONFIG_BYTES} bytes as compact JSON (Lambda's environment is 4 KB in all)`,
        `context ${CONTEXT_KEYS.questions} (${file})`,
        `${bytes} bytes`,
      ),
    );
  }
  return json;
}

type Context = Pick<Node, 'tryGetContext'>;

function text(node: Context, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  return String(value).trim();
}

function integer(node: Context, key: string): number | undefined {
  const raw = text(node, key);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw new ConfigError(expected('an integer', `context ${key}`, raw));
  return value;
}

function list(node: Context, key: string): string[] | undefined {
  const value: unknown = node.tryGetContext(key);
  if (Array.isArray(value)) return value.map(String);
  const raw = text(node, key);
  return raw === undefined
    ? undefined
    : raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

export function stackPropsFromContext(node: Context): ImageDescriberStackProps {
  const k = CONTEXT_KEYS;
  const reserved = text(node, k.fastReservedConcurrency);
  const issuer = text(node, k.jwtIssuer);
  const audience = list(node, k.jwtAudience);
  if ((issuer === undefined) !== (audience === undefined)) {
    throw new ConfigError(
      expected(
        'both jwtIssuer and jwtAudience (or neither)',
        'context jwtIssuer/jwtAudience',
        issuer ?? audience?.join(','),
      ),
    );
  }
  const ocrStage = text(node, k.ocrStage);
  if (ocrStage !== undefined && !['fast', 'detailed', 'off'].includes(ocrStage)) {
    throw new ConfigError(expected('fast, detailed or off', `context ${k.ocrStage}`, ocrStage));
  }
  const requireModels = text(node, k.requireModels);
  if (requireModels !== undefined && requireModels !== 'true' && requireModels !== 'false') {
    throw new ConfigError(expected('true or false', `context ${k.requireModels}`, requireModels));
  }
  const removal = text(node, k.bucketRemovalPolicy);
  if (removal !== undefined && removal !== 'retain' && removal !== 'destroy') {
    throw new ConfigError(expected('retain or destroy', `context ${k.bucketRemovalPolicy}`, removal));
  }
  return {
    inputPrefix: text(node, k.inputPrefix),
    sidecarPrefix: text(node, k.sidecarPrefix),
    fast: {
      memoryMB: integer(node, k.fastMemoryMB),
      reservedConcurrency: reserved === 'none' ? false : integer(node, k.fastReservedConcurrency),
    },
    detailed: {
      memoryMB: integer(node, k.detailedMemoryMB),
      maxConcurrency: integer(node, k.detailedMaxConcurrency),
    },
    api: {
      auth:
        issuer !== undefined && audience !== undefined ? { kind: 'jwt', issuer, audience } : { kind: 'iam' },
      corsOrigins: list(node, k.corsOrigins),
      rateLimit: integer(node, k.apiRateLimit),
      burstLimit: integer(node, k.apiBurstLimit),
      uploadMaxBytes: integer(node, k.uploadMaxBytes),
    },
    ocrStage: ocrStage as OcrStage | undefined,
    questionsConfig: questionsConfigFromContext(node),
    alarmTopicArn: text(node, k.alarmTopicArn),
    remoteApiKeySecretArn: text(node, k.remoteApiKeySecretArn),
    bucketRemovalPolicy: removal === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    requireModels: requireModels === 'true',
  };
}
