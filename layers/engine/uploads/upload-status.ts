import { expected } from '../errors.ts';
import { type KeyLayout, sidecarKeyFor } from '../pipeline/key-layout.ts';
import { parseStoredRecord } from '../pipeline/staleness.ts';
import { ObjectNotFoundError, type ObjectStore } from '../ports.ts';
import type { DescriptionRecord } from '../record/schema.ts';
import { UploadNotFoundError } from './errors.ts';
import { isUploadId, uploadKeyFor } from './upload-id.ts';

export const UPLOAD_STATUSES = ['uploading', 'describing', 'fast-done', 'done', 'failed'] as const;
export type UploadStatus = (typeof UPLOAD_STATUSES)[number];

/** What `GET /uploads/{id}` returns; `record` is the sidecar once one describes the uploaded bytes. */
export interface UploadStatusView {
  readonly id: string;
  readonly status: UploadStatus;
  readonly record?: DescriptionRecord;
}

/**
 * A sidecar's stages as one status: any failed stage → failed; both done → done; fast done →
 * fast-done; anything else (pending, waiting-for-models) → describing.
 */
export function statusOfRecord(record: DescriptionRecord): Exclude<UploadStatus, 'uploading'> {
  const { fast, detailed } = record.status;
  if (fast.state === 'failed' || detailed.state === 'failed') return 'failed';
  if (fast.state === 'done' && detailed.state === 'done') return 'done';
  if (fast.state === 'done') return 'fast-done';
  return 'describing';
}

export interface UploadStatusDeps {
  readonly store: ObjectStore;
  readonly layout: KeyLayout;
}

/**
 * Status of an upload:
 * 1. the id must be a UUID as issued by createUpload, otherwise UploadNotFoundError (404) — the
 *    only keys this can read are `<inputPrefix>uploads/<uuid>` and its sidecar;
 * 2. HEAD the object: absent → uploading (the API keeps no state, so a well-formed id that was
 *    never issued reads the same; ids are random UUIDs, so this reveals nothing);
 * 3. read the sidecar: absent, unreadable, or describing other bytes (the form was posted again) → describing;
 *    otherwise the status of its stages, with the record.
 */
export async function getUploadStatus(id: unknown, deps: UploadStatusDeps): Promise<UploadStatusView> {
  if (!isUploadId(id)) throw new UploadNotFoundError(expected('an upload id (a UUID)', 'id', id));
  const key = uploadKeyFor(deps.layout, id);
  let etag: string;
  try {
    etag = (await deps.store.head(key)).etag;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return { id, status: 'uploading' };
    throw error;
  }
  const sidecar = await deps.store.getJson(sidecarKeyFor(deps.layout, key));
  // Unreadable counts as absent: the fast stage describes the image again (and keeps it aside).
  const record = sidecar && parseStoredRecord(sidecar.value);
  if (!record) return { id, status: 'describing' };
  if (record.source.etag && etag && record.source.etag !== etag) return { id, status: 'describing' };
  return { id, status: statusOfRecord(record), record };
}
