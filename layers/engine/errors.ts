/**
 * Named errors of the describe engine. Every error carries a stable `code` (written into failure
 * sidecars and metrics) and says whether retrying can help: `permanent` errors come from the input
 * itself (bad bytes, unsupported format) and end as a failed stage; the others are retried.
 */
export type ErrorCode =
  | ImageRejectionCode
  | 'UNREADABLE_SOURCE'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_LOAD_FAILED'
  | 'INFERENCE_FAILED'
  | 'REMOTE_UNREACHABLE'
  | 'REMOTE_MODEL_NOT_FOUND'
  | 'REMOTE_AUTH_FAILED'
  | 'REMOTE_IMAGE_REFUSED'
  | 'REMOTE_RATE_LIMITED'
  | 'REMOTE_FAILED'
  | 'INVALID_CONFIG'
  | 'INVALID_MANIFEST'
  | 'INVALID_RECORD'
  | 'OBJECT_NOT_FOUND'
  | 'PRECONDITION_FAILED'
  | 'STORAGE_UNAVAILABLE'
  | 'INVALID_JOB'
  | 'INVALID_EVENT'
  | 'INVALID_REQUEST'
  | 'UPLOAD_NOT_FOUND'
  | 'SEARCH_TIMEOUT'
  | 'SEARCH_SCAN_LIMIT'
  | 'SEARCH_FAILED'
  | 'SEARCH_BUSY'
  | 'VECTOR_INDEX_BUSY'
  | 'VECTOR_INDEX_REJECTED'
  | 'INTERNAL';

/**
 * `message` is for the person who caused the error: what was wrong and what to do, as a sentence.
 * `detail` keeps the precise, developer-facing reason ("Expected X for name but received Y") for
 * programs and logs; API responses and failure sidecars carry both.
 */
export abstract class DescribeError extends Error {
  abstract readonly code: ErrorCode;
  abstract readonly permanent: boolean;
  readonly detail?: string;

  constructor(message: string, options?: { cause?: unknown; detail?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options?.detail !== undefined) this.detail = options.detail;
  }
}

/** Why intake refused the bytes. */
export type ImageRejectionCode =
  | 'EMPTY_INPUT'
  | 'INPUT_TOO_LARGE'
  | 'UNSUPPORTED_FORMAT'
  | 'CORRUPT_IMAGE'
  | 'TOO_MANY_PIXELS'
  | 'UNUSUAL_DIMENSIONS';

/** The bytes are not an image we accept (empty, too big, wrong format, corrupt, too many pixels, too long a side). */
export class ImageRejectedError extends DescribeError {
  readonly permanent = true;
  constructor(
    readonly code: ImageRejectionCode,
    message: string,
    options?: { cause?: unknown; detail?: string },
  ) {
    super(message, options);
  }
}

/** The source could not be read (missing file, permission denied, object gone). */
export class SourceUnreadableError extends DescribeError {
  readonly code = 'UNREADABLE_SOURCE' as const;
  readonly permanent = true;
}

/** Model files are missing from the model directory: run `npm run models:fetch`. */
export class ModelNotFoundError extends DescribeError {
  readonly code = 'MODEL_NOT_FOUND' as const;
  readonly permanent = false;
}

export class ModelLoadError extends DescribeError {
  readonly code = 'MODEL_LOAD_FAILED' as const;
  readonly permanent = false;
}

/** The model ran but rejected this input (for example an image it cannot process). */
export class InferenceError extends DescribeError {
  readonly code = 'INFERENCE_FAILED' as const;
  readonly permanent = true;
}

/**
 * Remote models (openai-compatible, bedrock). Each says which endpoint and model, what happened and
 * what to do. Transient ones (unreachable, rate limited, a server error after the retries) are retried
 * by the queue; the others need a person (a setting or the image) and end the stage as failed, keeping
 * the last good description.
 */
export abstract class RemoteModelError extends DescribeError {}

/** No answer from the endpoint: connection refused, DNS, TLS, or no reply within the timeout. */
export class RemoteUnreachableError extends RemoteModelError {
  readonly code = 'REMOTE_UNREACHABLE' as const;
  readonly permanent = false;
}

/** The server does not serve the configured model name (404, or Bedrock's ResourceNotFound). */
export class RemoteModelNotFoundError extends RemoteModelError {
  readonly code = 'REMOTE_MODEL_NOT_FOUND' as const;
  readonly permanent = true;
}

/** The key was refused (401/403, Bedrock AccessDenied): the key, its secret or the IAM grant is wrong. */
export class RemoteAuthError extends RemoteModelError {
  readonly code = 'REMOTE_AUTH_FAILED' as const;
  readonly permanent = true;
}

/** The model refused this request or image (400/413/422, Bedrock ValidationException). */
export class RemoteImageRefusedError extends RemoteModelError {
  readonly code = 'REMOTE_IMAGE_REFUSED' as const;
  readonly permanent = true;
}

/** Still 429 (throttled) after the bounded retries: the queue tries the image again later. */
export class RemoteRateLimitedError extends RemoteModelError {
  readonly code = 'REMOTE_RATE_LIMITED' as const;
  readonly permanent = false;
}

/** A 5xx after the retries, or an answer that is not a chat completion. */
export class RemoteFailedError extends RemoteModelError {
  readonly code = 'REMOTE_FAILED' as const;
  readonly permanent = false;
}

export class ConfigError extends DescribeError {
  readonly code = 'INVALID_CONFIG' as const;
  readonly permanent = true;
}

export class ManifestError extends DescribeError {
  readonly code = 'INVALID_MANIFEST' as const;
  readonly permanent = true;
}

export class RecordValidationError extends DescribeError {
  readonly code = 'INVALID_RECORD' as const;
  readonly permanent = true;
}

/** The value a validation issue's path points at in the raw input, to say what was received. */
export function valueAtPath(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** One phrasing for every bad argument: "Expected X for name but received Y". */
export function describeReceived(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return value.length > 60 ? `"${value.slice(0, 57)}..."` : `"${value}"`;
  if (Buffer.isBuffer(value)) return `${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

export function expected(what: string, name: string, received: unknown): string {
  return `Expected ${what} for ${name} but received ${describeReceived(received)}`;
}

/** The developer-facing detail of an error, when it has one. */
export function detailOf(error: unknown): string | undefined {
  return error instanceof DescribeError ? error.detail : undefined;
}

export function errorCodeOf(error: unknown): ErrorCode {
  return error instanceof DescribeError ? error.code : 'INTERNAL';
}

export function isPermanent(error: unknown): boolean {
  return error instanceof DescribeError && error.permanent;
}
