import { randomUUID } from 'node:crypto';
import { expected } from '../errors.ts';
import type { KeyLayout } from '../pipeline/key-layout.ts';
import { UploadNotFoundError } from './errors.ts';

/** `crypto.randomUUID()` output: lowercase version-4 UUID. Anything else names no upload. */
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export const newUploadId = (): string => randomUUID();

export function isUploadId(value: unknown): value is string {
  return typeof value === 'string' && UPLOAD_ID.test(value);
}

/** `<inputPrefix>uploads/<id>`: server-chosen, so no part of a client's request reaches a key. */
export function uploadKeyFor(layout: KeyLayout, id: string): string {
  // Checked here too, so no caller can build a key from an unchecked id.
  if (!isUploadId(id)) throw new UploadNotFoundError(expected('an upload id (a UUID)', 'id', id));
  return `${layout.inputPrefix}uploads/${id}`;
}
