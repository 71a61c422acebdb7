import { createUploadApi, readUploadApiConfig } from './upload-api-handler.ts';

/**
 * Upload API Lambda: configuration and clients are created once per process; a bad deploy (no
 * BUCKET_NAME, bad prefix) fails at cold start.
 */
export const handler = createUploadApi(readUploadApiConfig(process.env));
