import { ConfigError, expected } from '../errors.ts';
import { type KeyLayout, readKeyLayout } from '../pipeline/key-layout.ts';
import { ENV, type Env, readIntegerEnv, readRequiredEnv } from '../settings.ts';

/** Same default as infra/ (UploadApi uploadMaxBytes), so the local stack and AWS accept the same files. */
export const DEFAULT_UPLOAD_MAX_BYTES = 20 * 1024 * 1024;
/** The longest a presigned POST may live (5 minutes: a leaked URL is soon useless). */
export const MAX_UPLOAD_EXPIRY_SECONDS = 300;

/** Upload types we accept: the formats the engine decodes (sharp), by their registered media types. */
export const ACCEPTED_UPLOAD_TYPES = Object.freeze([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/tiff',
  'image/avif',
] as const);

export type AcceptedUploadType = (typeof ACCEPTED_UPLOAD_TYPES)[number];

export interface UploadSettings {
  readonly bucket: string;
  readonly layout: KeyLayout;
  /** Largest upload the POST policy allows, in bytes. */
  readonly maxBytes: number;
  /** Lifetime of a presigned POST, 1..300 seconds. */
  readonly expiresInSeconds: number;
}

export function uploadSettings(
  settings: Partial<UploadSettings> & Pick<UploadSettings, 'bucket'>,
): UploadSettings {
  const expiresInSeconds = settings.expiresInSeconds ?? MAX_UPLOAD_EXPIRY_SECONDS;
  if (
    !Number.isInteger(expiresInSeconds) ||
    expiresInSeconds < 1 ||
    expiresInSeconds > MAX_UPLOAD_EXPIRY_SECONDS
  ) {
    throw new ConfigError(
      expected(
        `an integer from 1 to ${MAX_UPLOAD_EXPIRY_SECONDS}`,
        'upload expiry seconds',
        expiresInSeconds,
      ),
    );
  }
  const maxBytes = settings.maxBytes ?? DEFAULT_UPLOAD_MAX_BYTES;
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw new ConfigError(expected('an integer >= 1', ENV.UPLOAD_MAX_BYTES, maxBytes));
  }
  return Object.freeze({
    bucket: settings.bucket,
    layout: settings.layout ?? readKeyLayout({}),
    maxBytes,
    expiresInSeconds,
  });
}

/** Read once at cold start: BUCKET_NAME (required), INPUT_PREFIX, SIDECAR_PREFIX, UPLOAD_MAX_BYTES. */
export function readUploadSettings(env: Env = process.env): UploadSettings {
  return uploadSettings({
    bucket: readRequiredEnv(env, ENV.BUCKET_NAME),
    layout: readKeyLayout(env),
    maxBytes: readIntegerEnv(env, ENV.UPLOAD_MAX_BYTES, DEFAULT_UPLOAD_MAX_BYTES, 1),
  });
}
