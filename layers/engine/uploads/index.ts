/** The upload API's use cases (presigned POST, status, search route) behind one HTTP handler. */

export {
  createSearchApiHandler,
  createUploadApiHandler,
  SEARCH_API_ROUTE,
  UPLOAD_API_ROUTES,
} from './http-api.ts';
export { DEFAULT_UPLOAD_MAX_BYTES, readUploadSettings, type UploadSettings } from './settings.ts';
export { statusOfRecord, type UploadStatus } from './upload-status.ts';

export const IMPORTED_ON_THEIR_OWN: readonly string[] = [];
