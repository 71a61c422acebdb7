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

/** `images/2026/cat.jpg` → `descriptions/2026/cat.jpg.json`. Throws for keys outside the input prefix. */
export function sidecarKeyFor(layout: KeyLayout, inputKey: string): string {
  if (!isInputKey(layout, inputKey)) {
    throw new ConfigError(expected(`a key under "${layout.inputPrefix}"`, 'input key', inputKey));
  }
  return `${layout.sidecarPrefix}${inputKey.slice(layout.inputPrefix.length)}${SIDECAR_SUFFIX}`;
}

/** `descriptions/2026/cat.jpg.json` → `images/2026/cat.jpg`; undefined for keys that are not sidecars. */
export function inputKeyFor(layout: KeyLayout, sidecarKey: string): string | undefined {
  if (!sidecarKey.startsWith(layout.sidecarPrefix) || !sidecarKey.endsWith(SIDECAR_SUFFIX)) return undefined;
  const rest = sidecarKey.slice(layout.sidecarPrefix.length, -SIDECAR_SUFFIX.length);
  return rest === '' ? undefined : `${layout.inputPrefix}${rest}`;
}

/**
 * The object key of an S3 event record: URL-encoded form data, so `+` is a space and the rest is
 * percent-encoded (`my+photo%281%29.jpg` → `my photo(1).jpg`).
 */
export function decodeEventKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}
