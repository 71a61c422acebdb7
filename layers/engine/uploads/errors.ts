import { DescribeError } from '../errors.ts';

/** The upload request breaks a rule (missing field, size, type, filename): the client must change it. */
export class UploadRequestError extends DescribeError {
  readonly code = 'INVALID_REQUEST' as const;
  readonly permanent = true;
}

/** The id is malformed, so it cannot name an upload (no key is ever built from it). */
export class UploadNotFoundError extends DescribeError {
  readonly code = 'UPLOAD_NOT_FOUND' as const;
  readonly permanent = true;
}
