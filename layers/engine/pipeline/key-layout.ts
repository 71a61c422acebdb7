import { createHash } from 'node:crypto';
import { ConfigError, expected } from '../errors.ts';
import { ENV, type Env } from '../settings.ts';

/**
 * Where uploads and sidecars live in the bucket. Uploads sit under the input prefix, sidecars under
 * a separate sidecar prefix: `images/2026/cat.jpg` → `descriptions/2026/cat.jpg.json`. The S3
 * notification covers only the input prefix and the handlers ignore any other key, so writing a
 * sidecar can never trigger another description (no recursion, by construction).
 */
export interface KeyLayout {
  /** Prefix of uploaded images, ends with `/`. Default `images/`. */
  readonly inputPrefix: string;
  /** Prefix of sidecars, ends with `/`. Default `descriptions/`. */
  readonly sidecarPrefix: string;
}

export const DEFAULT_KEY_LAYOUT: KeyLayout = Object.freeze({
  inputPrefix: 'images/',
  sidecarPrefix: 'descriptions/',
});

export const SIDECAR_SUFFIX = '.json';

function checkPrefix(name: string, value: string): string {
  if (!/^[^/].*\/$/.test(value) || value.includes('//')) {
    throw new ConfigError(expected('a prefix like "images/" (no leading slash, ends with /)', name, value));
  }
  return value;
}

/** Validate a layout: two non-empty prefixes, neither inside the other (or sidecars would be inputs). */
export function keyLayout(layout: Partial<KeyLayout> = {}): KeyLayout {
  const inputPrefix = checkPrefix(ENV.INPUT_PREFIX, layout.inputPrefix ?? DEFAULT_KEY_LAYOUT.inputPrefix);
  const sidecarPrefix = checkPrefix(
    ENV.SIDECAR_PREFIX,
    layout.sidecarPrefix ?? DEFAULT_KEY_LAYOUT.sidecarPrefix,
  );
  if (inputPrefix.startsWith(sidecarPrefix) || sidecarPrefix.startsWith(inputPrefix)) {
    throw new ConfigError(
      expected(
        `a sidecar prefix disjoint from the input prefix "${inputPrefix}"`,
        ENV.SIDECAR_PREFIX,
        sidecarPrefix,
      ),
    );
  }
  return Object.freeze({ inputPrefix, sidecarPrefix });
}

/** Read INPUT_PREFIX and SIDECAR_PREFIX once at start-up (unset or empty = defaults). */
export function readKeyLayout(env: Env = process.env): KeyLayout {
  return keyLayout({
    inputPrefix: env[ENV.INPUT_PREFIX] || undefined,
    sidecarPrefix: env[ENV.SIDECAR_PREFIX] || undefined,
  });
}

/** True for keys of uploaded images: under the input prefix, with something after it. */
export function isInputKey(layout: KeyLayout, key: string): boolean {
  return key.startsWith(layout.inputPrefix) && key.length > layout.inputPrefix.length && !key.endsWith('/');
}

/**
 * `images/2026/cat.jpg` → `descriptions/2026/cat.jpg.json`; when that would pass S3's 1,024-byte
 * limit, the key cut short with a hash of the whole input key (`…~long-key-<hash>.json`). Throws
 * for keys outside the input prefix.
 */
export function sidecarKeyFor(layout: KeyLayout, inputKey: string): string {
  if (!isInputKey(layout, inputKey)) {
    throw new ConfigError(expected(`a key under "${layout.inputPrefix}"`, 'input key', inputKey));
  }
  const relative = inputKey.slice(layout.inputPrefix.length);
  const direct = `${layout.sidecarPrefix}${relative}${SIDECAR_SUFFIX}`;
  if (Buffer.byteLength(direct, 'utf8') <= MAX_KEY_BYTES) return direct;
  // S3 keys end at 1,024 bytes; an input key near that has no room for the prefix and suffix.
  const tail = `${LONG_KEY_MARK}${createHash('sha256').update(inputKey).digest('hex').slice(0, 32)}${SIDECAR_SUFFIX}`;
  return `${layout.sidecarPrefix}${cutToBytes(relative, MAX_KEY_BYTES - Buffer.byteLength(layout.sidecarPrefix + tail, 'utf8'))}${tail}`;
}

/** S3's limit on a key: 1,024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;
/** Marks a sidecar key shortened with a hash (its input key is in the record's `source.key`). */
const LONG_KEY_MARK = '~long-key-';

/** The longest beginning of `text` of at most `bytes` UTF-8 bytes, by whole characters. */
export function cutToBytes(text: string, bytes: number): string {
  let kept = '';
  for (const character of text) {
    if (Buffer.byteLength(kept + character, 'utf8') > bytes) break;
    kept += character;
  }
  return kept;
}

/**
 * Where a sidecar that could not be read is kept for its owner before the image is described again
 * (`descriptions/cat.jpg.json.corrupt`): under the sidecar prefix, which the fast stage may write,
 * and not a sidecar (search reads it as a malformed line, never a result).
 */
export function keptAsideKeyFor(sidecarKey: string): string {
  const room = MAX_KEY_BYTES - KEPT_ASIDE_SUFFIX.length;
  return `${Buffer.byteLength(sidecarKey, 'utf8') <= room ? sidecarKey : cutToBytes(sidecarKey, room)}${KEPT_ASIDE_SUFFIX}`;
}

export const KEPT_ASIDE_SUFFIX = '.corrupt';

/** `descriptions/2026/cat.jpg.json` → `images/2026/cat.jpg`; undefined for keys that are not sidecars. */
export function inputKeyFor(layout: KeyLayout, sidecarKey: string): string | undefined {
  if (!sidecarKey.startsWith(layout.sidecarPrefix) || !sidecarKey.endsWith(SIDECAR_SUFFIX)) return undefined;
  const rest = sidecarKey.slice(layout.sidecarPrefix.length, -SIDECAR_SUFFIX.length);
  // A shortened key cannot be turned back: the caller reads `source.key` from the record.
  if (rest === '' || new RegExp(`${LONG_KEY_MARK}[0-9a-f]{32}$`).test(rest)) return undefined;
  return `${layout.inputPrefix}${rest}`;
}

/**
 * The object key of an S3 event record: URL-encoded form data, so `+` is a space and the rest is
 * percent-encoded (`my+photo%281%29.jpg` → `my photo(1).jpg`).
 */
export function decodeEventKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}
