import type { BedrockSpec, OpenAiCompatibleSpec, RemoteModelSpec } from './manifest.ts';

/**
 * The port remote runners call: one prompt about one image to a vision model over the network.
 * Adapters (layers/adapters/openai-chat-client.ts, bedrock-converse-client.ts) implement it and
 * translate every failure into a `RemoteCallError`, so the runner's retry policy never sees HTTP
 * or SDK types.
 */
export interface RemoteVisionRequest {
  /** JPEG bytes of the image, at most the spec's `imageMaxSide` on the longer side. */
  readonly jpeg: Uint8Array;
  readonly prompt: string;
  /** The answer's token cap (the task's `max_new_tokens`). */
  readonly maxTokens?: number;
  /** Greedy decoding (temperature 0) unless the task asks for sampling. */
  readonly sample: boolean;
  /** Aborted when the request's time limit is over. */
  readonly signal: AbortSignal;
}

export interface RemoteVisionAnswer {
  readonly text: string;
  /** Token counts the server reported (absent when it reports none). */
  readonly inputTokens?: number;
  readonly outputTokens?: number;
}

export interface RemoteVisionClient {
  ask(request: RemoteVisionRequest): Promise<RemoteVisionAnswer>;
}

/**
 * What went wrong with one call, as the retry policy needs it:
 * - retried: `unreachable` (no connection), `timeout`, `rate-limited` (429, throttling), `server` (5xx)
 * - not retried: `model-not-found`, `auth`, `refused` (this request or image), `malformed` (not an answer)
 */
export type RemoteFailure =
  | 'unreachable'
  | 'timeout'
  | 'rate-limited'
  | 'server'
  | 'model-not-found'
  | 'auth'
  | 'refused'
  | 'malformed';

export class RemoteCallError extends Error {
  readonly failure: RemoteFailure;
  /** HTTP status, when there was one. */
  readonly status?: number;
  /** The server's Retry-After, in ms. */
  readonly retryAfterMs?: number;

  constructor(
    failure: RemoteFailure,
    message: string,
    options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RemoteCallError';
    this.failure = failure;
    if (options.status !== undefined) this.status = options.status;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** Builds the client of a remote model; the composition root supplies it (createEngine). */
export interface RemoteClients {
  openAiCompatible(spec: OpenAiCompatibleSpec, options: { apiKey?: string }): Promise<RemoteVisionClient>;
  bedrock(spec: BedrockSpec): Promise<RemoteVisionClient>;
}

/** An API key by environment variable name: process.env locally, a Secrets Manager value in AWS. */
export type SecretLookup = (name: string) => string | undefined;

export function clientFor(
  clients: RemoteClients,
  spec: RemoteModelSpec,
  secret: SecretLookup,
): Promise<RemoteVisionClient> {
  if (spec.architecture === 'bedrock') return clients.bedrock(spec);
  const apiKey = spec.apiKeyEnv ? secret(spec.apiKeyEnv) : undefined;
  return clients.openAiCompatible(spec, apiKey ? { apiKey } : {});
}
