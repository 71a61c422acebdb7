/** The description record: its schema, reading a stored one, and the file sidecar's name. */

export { FILE_SIDECAR_SUFFIX, fileSidecarPath } from './file-sidecar.ts';
export { descriptionRecordJsonSchema } from './json-schema.ts';
export { readStoredRecord, sha256Hex } from './record.ts';
export type { Colour, DescriptionRecord } from './schema.ts';

export const IMPORTED_ON_THEIR_OWN: readonly string[] = [];
