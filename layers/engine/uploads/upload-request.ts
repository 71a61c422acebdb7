import { expected } from '../errors.ts';
import { tooLargeSentence } from '../user-messages.ts';
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

/** A sentence for the person (what was wrong, what to do); the exact rule stays in `detail`. */
function fail(sentence: string, what: string, name: string, received: unknown): never {
  throw new UploadRequestError(sentence, { detail: expected(what, name, received) });
}

const ACCEPTED_NAMES = 'JPEG, PNG, WebP, GIF, TIFF or AVIF';

/** Half of a UTF-16 surrogate pair, alone. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkFilename(value: unknown): string {
  if (typeof value !== 'string') {
    fail(
      'The request does not say the file\'s name: send it as text in "filename".',
      'a string',
      'filename',
      value,
    );
  }
  if (LONE_SURROGATE.test(value)) {
    // Half of a UTF-16 pair (`\ud800`, valid JSON) encodes to no UTF-8 at all: no key can hold it.
    fail(
      'The file name contains a broken character (half of an emoji or other symbol): rename the file and upload it again.',
      'a file name of whole Unicode characters',
      'filename',
      value.replace(new RegExp(LONE_SURROGATE.source, 'g'), '\uFFFD'),
    );
  }
  const name = value.normalize('NFC');
  if (name.trim() === '') {
    fail(
      'The file has no name: give it a name and upload it again.',
      'a non-empty file name',
      'filename',
      value,
    );
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_FILENAME_BYTES) {
    fail(
      'The file name is too long: rename the file to something shorter and upload it again.',
      `a file name of at most ${MAX_FILENAME_BYTES} UTF-8 bytes`,
      'filename',
      value,
    );
  }
  if (/[/\\]/.test(name) || name === '.' || name === '..') {
    fail(
      'The file name may not contain folders (/ or \\) or be "." or "..": send only the file\'s own name.',
      'a file name without path separators',
      'filename',
      value,
    );
  }
  if (name.match(CONTROL_CHARACTERS)) {
    fail(
      'The file name contains invisible control characters: rename the file and upload it again.',
      'a file name without control characters',
      'filename',
      name.replace(CONTROL_CHARACTERS, '?'),
    );
  }
  return name;
}

function checkContentType(value: unknown): AcceptedUploadType {
  const rule = `one of ${ACCEPTED_UPLOAD_TYPES.join(', ')}`;
  if (typeof value !== 'string' || value.trim() === '') {
    fail(
      `The kind of file is not known (no content type): upload a ${ACCEPTED_NAMES} image.`,
      typeof value === 'string' ? rule : 'a string',
      'contentType',
      value,
    );
  }
  const type = value.trim().toLowerCase();
  const accepted = ACCEPTED_UPLOAD_TYPES.find((candidate) => candidate === type);
  if (!accepted) fail(unacceptedType(type), rule, 'contentType', value);
  return accepted;
}

function unacceptedType(type: string): string {
  if (type.startsWith('image/svg')) {
    return 'SVG drawings cannot be uploaded here: export the drawing as PNG and upload that.';
  }
  if (type.startsWith('image/hei')) {
    return 'HEIC/HEIF photos (the iPhone format) cannot be described: convert the photo to JPEG first (on an iPhone: Settings → Camera → Formats → Most Compatible).';
  }
  return `This kind of file (${type}) cannot be uploaded: upload a ${ACCEPTED_NAMES} image.`;
}

function checkSize(value: unknown, maxBytes: number): number {
  const what = `an integer number of bytes from 1 to ${maxBytes}`;
  if (value === 0) {
    fail(
      'The file is empty (0 bytes): choose the image file itself and upload it again.',
      what,
      'size',
      value,
    );
  }
  if (typeof value === 'number' && Number.isInteger(value) && value > maxBytes) {
    fail(tooLargeSentence(value, maxBytes), what, 'size', value);
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    fail(
      'The request gives no usable file size: send "size" as a whole number of bytes (1 or more).',
      what,
      'size',
      value,
    );
  }
  return value;
}

/**
 * Check an upload request body (already JSON-parsed) field by field; the first broken rule throws
 * UploadRequestError with a sentence for the person and, in `detail`, "Expected X for name but
 * received Y". Unknown fields are ignored.
 */
export function parseUploadRequest(body: unknown, maxBytes: number): UploadRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    fail(
      'The upload request must be a JSON object with "filename", "contentType" and "size".',
      'a JSON object with filename, contentType and size',
      'request body',
      body,
    );
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
