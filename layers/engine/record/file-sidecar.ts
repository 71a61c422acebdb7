import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { cutToBytes } from '../pipeline/key-layout.ts';

/**
 * A description written next to its file on disk, `<file>.description.json`: the CLI's sidecars in
 * folders and the local stack's inbox mirror, so a mirrored folder looks like one the CLI described.
 */
export const FILE_SIDECAR_SUFFIX = '.description.json';

/** The longest file name the common file systems take (ext4, APFS, NTFS: 255 bytes or units). */
const MAX_FILE_NAME_BYTES = 255;

/**
 * The sidecar's file name for a file called `name`: `<name>.description.json`, or, when that
 * would be longer than a file system takes, the name cut short (by whole characters) with a hash
 * of the full name, so two long names sharing a beginning still get their own sidecars.
 */
export function fileSidecarName(name: string): string {
  const whole = `${name}${FILE_SIDECAR_SUFFIX}`;
  if (Buffer.byteLength(whole, 'utf8') <= MAX_FILE_NAME_BYTES) return whole;
  const tail = `~${createHash('sha256').update(name).digest('hex').slice(0, 16)}${FILE_SIDECAR_SUFFIX}`;
  return `${cutToBytes(name, MAX_FILE_NAME_BYTES - Buffer.byteLength(tail, 'utf8'))}${tail}`;
}

/** `<dir>/<name>` → the sidecar path beside it (see fileSidecarName). */
export function fileSidecarPath(path: string): string {
  return join(dirname(path), fileSidecarName(basename(path)));
}
