import type { UploadSigner } from '../ports.ts';
import type { UploadSettings } from './settings.ts';
import { newUploadId, uploadKeyFor } from './upload-id.ts';
import { metadataFilename, parseUploadRequest } from './upload-request.ts';

/** What `POST /uploads` returns: POST the file with these fields to this url before `expiresAt`. */
export interface UploadTicket {
  readonly id: string;
  readonly url: string;
  readonly fields: Readonly<Record<string, string>>;
  /** ISO 8601; the policy's expiration (S3 refuses the form after it). */
  readonly expiresAt: string;
}

export const ORIGINAL_FILENAME_FIELD = 'x-amz-meta-original-filename';

export interface CreateUploadDeps {
  readonly settings: UploadSettings;
  readonly signer: UploadSigner;
  readonly now?: () => Date;
  readonly newId?: () => string;
}

/**
 * Create an upload:
 * 1. check the request (filename, contentType on the allow-list, size within 1..max);
 * 2. choose the id (random UUID) and the key `<inputPrefix>uploads/<id>`;
 * 3. presign a POST whose policy pins the exact key, the size range, the Content-Type and the
 *    sanitised original filename, for at most 5 minutes; the same values go into the form fields
 *    (the SDK does not copy conditions into fields);
 * 4. return `{ id, url, fields, expiresAt }`.
 */
export async function createUpload(body: unknown, deps: CreateUploadDeps): Promise<UploadTicket> {
  const { settings, signer } = deps;
  const request = parseUploadRequest(body, settings.maxBytes);
  const id = (deps.newId ?? newUploadId)();
  const key = uploadKeyFor(settings.layout, id);
  const start = (deps.now ?? (() => new Date()))();
  const fields = {
    'Content-Type': request.contentType,
    [ORIGINAL_FILENAME_FIELD]: metadataFilename(request.filename),
  };
  const post = await signer.presignPost({
    key,
    conditions: [
      { key },
      ['content-length-range', 1, settings.maxBytes],
      { 'Content-Type': fields['Content-Type'] },
      { [ORIGINAL_FILENAME_FIELD]: fields[ORIGINAL_FILENAME_FIELD] },
    ],
    fields,
    expiresInSeconds: settings.expiresInSeconds,
  });
  // Taken before signing, so the reported expiry is never later than the policy's.
  const expiresAt = new Date(Math.floor(start.getTime() / 1000) * 1000 + settings.expiresInSeconds * 1000);
  return { id, url: post.url, fields: post.fields, expiresAt: expiresAt.toISOString() };
}
