import { expected } from '../errors.ts';
import { UploadRequestError } from './errors.ts';
import { ACCEPTED_UPLOAD_TYPES, type AcceptedUploadType } from './settings.ts';

/** What a client asks for: `POST /uploads` with `{ filename, contentType, size }`. */
export interface UploadRequest {
  /** The original name, checked; used only as metadata, never in a key. */
  readonly filename: string;
  readonly contentType: AcceptedUploadType;
  readonly size: number;
}

export const MAX_FILENAME_BYTES = 255;

// C0 and C1 controls, DEL, and the bidirectional overrides/isolates that make "gpj.exe" read as "exe.jpg".
const CONTROL_CHARACTERS = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu;

function fail(what: string, name: string, received: unknown): never {
  throw new UploadRequestError(expected(what, name, received));
}

function checkFilename(value: unknown): string {
  if (typeof value !== 'string') fail('a string', 'filename', value);
  const name = value.normalize('NFC');
  if (name.trim() === '') fail('a non-empty file name', 'filename', value);
  if (Buffer.byteLength(name, 'utf8') > MAX_FILENAME_BYTES) {
    fail(`a file name of at most ${MAX_FILENAME_BYTES} UTF-8 bytes`, 'filename', value);
  }
  if (/[/\\]/.test(name) || name === '.' || name === '..') {
    fail('a file name without path separators', 'filename', value);
  }
  if (name.match(CONTROL_CHARACTERS)) {
    fail('a file name without control characters', 'filename', name.replace(CONTROL_CHARACTERS, '?'));
  }
  return name;
}

function checkContentType(value: unknown): AcceptedUploadType {
  if (typeof value !== 'string') fail('a string', 'contentType', value);
  const type = value.trim().toLowerCase();
  const accepted = ACCEPTED_UPLOAD_TYPES.find((candidate) => candidate === type);
  if (!accepted) fail(`one of ${ACCEPTED_UPLOAD_TYPES.join(', ')}`, 'contentType', value);
  return accepted;
}

function checkSize(value: unknown, maxBytes: number): number {
  const what = `an integer number of bytes from 1 to ${maxBytes}`;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > maxBytes) {
    fail(what, 'size', value);
  }
  return value;
}

/**
 * Check an upload request body (already JSON-parsed) field by field; the first broken rule throws
 * UploadRequestError with "Expected X for name but received Y". Unknown fields are ignored.
 */
export function parseUploadRequest(body: unknown, maxBytes: number): UploadRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    fail('a JSON object with filename, contentType and size', 'request body', body);
  }
  const fields = body as Record<string, unknown>;
  return {
    filename: checkFilename(fields.filename),
    contentType: checkContentType(fields.contentType),
    size: checkSize(fields.size, maxBytes),
  };
}

/**
 * The file name as an S3 metadata value: printable ASCII is kept, everything else (and `%`) is
 * percent-encoded as UTF-8, so the value is valid in an HTTP header and `decodeURIComponent`
 * gives the name back.
 */
export function metadataFilename(filename: string): string {
  let out = '';
  for (const char of filename) {
    const code = char.codePointAt(0) ?? 0;
    out += code >= 0x20 && code <= 0x7e && char !== '%' ? char : encodeURIComponent(char);
  }
  return out;
}
