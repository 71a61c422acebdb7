import sharp from 'sharp';
import {
  ConfigError,
  expected,
  RemoteAuthError,
  RemoteFailedError,
  RemoteImageRefusedError,
  type RemoteModelError,
  RemoteModelNotFoundError,
  RemoteRateLimitedError,
  RemoteUnreachableError,
} from '../../errors.ts';
import type { RgbImage } from '../../image/types.ts';
import { elapsedMs } from '../../timing.ts';
import type { RemoteModelSpec } from '../manifest.ts';
import { providerOf } from '../provenance.ts';
import { RemoteCallError, type RemoteVisionClient } from '../remote-client.ts';
import type { EncodedImage, ModelRunner, TaskAnswer, TaskRequest } from '../runner.ts';
import { cleanModelOutput } from './clean-output.ts';

/** First wait before a retry; doubled each time (with jitter) unless the server says how long. */
export const RETRY_BASE_MS = 500;
/** A Retry-After longer than this is not waited out in-process: the queue retries later. */
export const MAX_RETRY_AFTER_MS = 30_000;

export interface RemoteRunnerOptions {
  /** Waits between retries (tests pass a recorder). @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** 0-1, for the backoff's jitter. @default Math.random */
  readonly random?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** At most `limit` calls in flight; the others wait their turn in arrival order. */
export class ConcurrencyLimit {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next caller, so `active` never dips below what runs.
      if (next) next();
      else this.active--;
    }
  }
}

const RETRIED = new Set(['unreachable', 'timeout', 'rate-limited', 'server']);

function modelName(spec: RemoteModelSpec): string {
  return spec.architecture === 'bedrock' ? spec.modelId : spec.model;
}

/** The person-facing error for a call that failed for good (retries spent, or not worth retrying). */
function namedError(spec: RemoteModelSpec, error: RemoteCallError, attempts: number): RemoteModelError {
  const model = modelName(spec);
  const where = `${spec.architecture} model "${model}" at ${providerOf(spec)}`;
  const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
  const options = { cause: error, detail: error.message };
  switch (error.failure) {
    case 'unreachable':
    case 'timeout': {
      const what =
        error.failure === 'timeout' ? `did not answer within ${spec.timeoutMs} ms` : 'could not be reached';
      return new RemoteUnreachableError(
        `The ${where} ${what}${tries}. Check that the server is running and the endpoint in the manifest is right; the image is tried again later.`,
        options,
      );
    }
    case 'rate-limited':
      return new RemoteRateLimitedError(
        `The ${where} is rate limiting this deployment${tries}. Lower "concurrency" in the manifest or raise the quota; the image is tried again later.`,
        options,
      );
    case 'model-not-found':
      return new RemoteModelNotFoundError(
        spec.architecture === 'bedrock'
          ? `Bedrock has no model "${model}" here (or it is not enabled in this account and region). Check "modelId" in the manifest and the model access page of the Bedrock console.`
          : `The server at ${providerOf(spec)} does not serve a model named "${model}". Use a name it lists (GET /v1/models, \`ollama list\`) as "model" in the manifest, or pull it (\`ollama pull ${model}\`).`,
        options,
      );
    case 'auth':
      return new RemoteAuthError(
        spec.architecture === 'bedrock'
          ? `Bedrock refused to run "${model}" for this role. Grant bedrock:InvokeModel on it (the stack does so for the configured model) and enable the model in the Bedrock console.`
          : `The ${where} refused the API key${spec.apiKeyEnv ? ` from ${spec.apiKeyEnv}` : ' (none was sent: set "apiKeyEnv" in the manifest)'}. Check the key (in AWS: its secret).`,
        options,
      );
    case 'refused':
      return new RemoteImageRefusedError(
        `The ${where} refused this image or request: ${error.message}. Try a smaller "imageMaxSide", check that the model accepts images, or leave this image to the local model.`,
        options,
      );
    default:
      return new RemoteFailedError(`The ${where} failed${tries}: ${error.message}`, options);
  }
}

/** Wait before retry `attempt` (1-based): the server's Retry-After, else exponential backoff with jitter. */
export function retryDelayMs(error: RemoteCallError, attempt: number, random: () => number): number {
  if (error.retryAfterMs !== undefined) return error.retryAfterMs;
  const ceiling = RETRY_BASE_MS * 2 ** (attempt - 1);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * A remote vision model (openai-compatible or bedrock) behind the same runner interface as the
 * local ones, so the engine, the guard and the staleness checks treat its answers alike. Steps:
 *  1. `encode`: the working pixels as a JPEG no longer than `imageMaxSide` (the bytes sent).
 *  2. `run`: one prompt through the client, inside the concurrency limit, with a time limit per
 *     request; 429, 5xx, timeouts and dropped connections are retried up to `maxRetries` times
 *     (Retry-After honoured up to 30 s, else backoff); every other failure at once.
 *  3. The answer is cleaned like a local model's; token counts travel with it.
 */
export function createRemoteRunner(
  name: string,
  spec: RemoteModelSpec,
  client: RemoteVisionClient,
  options: RemoteRunnerOptions = {},
): ModelRunner {
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const limit = new ConcurrencyLimit(spec.concurrency);

  const askOnce = (jpeg: Uint8Array, prompt: string, request: TaskRequest) =>
    limit.run(async () => {
      const signal = AbortSignal.timeout(spec.timeoutMs);
      try {
        return await client.ask({
          jpeg,
          prompt,
          maxTokens: request.generation.max_new_tokens,
          sample: request.generation.do_sample === true,
          signal,
        });
      } catch (error) {
        // Whatever the adapter threw after our own deadline passed is a timeout.
        if (signal.aborted && !(error instanceof RemoteCallError && error.failure !== 'unreachable')) {
          throw new RemoteCallError('timeout', `no answer within ${spec.timeoutMs} ms`, { cause: error });
        }
        throw error;
      }
    });

  return {
    model: name,
    architecture: spec.architecture,
    async encode(image: RgbImage): Promise<EncodedImage> {
      const started = performance.now();
      const jpeg = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
        .resize(spec.imageMaxSide, spec.imageMaxSide, { fit: 'inside', withoutEnlargement: true })
        .jpeg({ quality: 85 })
        .toBuffer();
      return {
        model: name,
        width: image.width,
        height: image.height,
        encodeMs: elapsedMs(started),
        state: jpeg,
      };
    },
    async run(encoded: EncodedImage, request: TaskRequest): Promise<TaskAnswer> {
      const prompt = request.prompt?.trim();
      if (!prompt) {
        throw new ConfigError(
          expected('a non-empty prompt', `the prompt of ${modelName(spec)}`, request.prompt),
        );
      }
      const jpeg = encoded.state as Uint8Array;
      for (let attempt = 1; ; attempt++) {
        try {
          const answer = await askOnce(jpeg, prompt, request);
          const usage =
            answer.inputTokens !== undefined || answer.outputTokens !== undefined
              ? { inputTokens: answer.inputTokens ?? 0, outputTokens: answer.outputTokens ?? 0 }
              : undefined;
          return {
            kind: 'text',
            text: cleanModelOutput(answer.text, { prompt }),
            ...(usage ? { usage } : {}),
          };
        } catch (error) {
          if (!(error instanceof RemoteCallError)) throw error;
          const retry = RETRIED.has(error.failure) && attempt <= spec.maxRetries;
          const wait = retry ? retryDelayMs(error, attempt, random) : 0;
          if (!retry || wait > MAX_RETRY_AFTER_MS) throw namedError(spec, error, attempt);
          await sleep(wait);
        }
      }
    },
    dispose: async () => {},
  };
}
