import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import {
  AthenaSqlRunner,
  S3ObjectStore,
  S3UploadSigner,
  serviceLogger,
  withPowertools,
} from '#adapters/index.ts';
import type { Env } from '#engine/index.ts';
import {
  type AthenaSearchSettings,
  createAthenaSearch,
  readAthenaSearchSettings,
} from '#engine/search/index.ts';
import { createUploadApiHandler, readUploadSettings, type UploadSettings } from '#engine/uploads/index.ts';

/**
 * The upload API's composition root, apart from the describe functions' (handlers.ts): it is
 * bundled into a zip function, so nothing it imports may reach the model runtime.
 */

export type UploadApiLambda = (
  event: APIGatewayProxyEventV2,
  context?: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface UploadApiConfig {
  readonly upload: UploadSettings;
  /** Absent when the stack deploys no search. */
  readonly search?: AthenaSearchSettings;
  /** A loopback S3 (the local stack); absent in Lambda, where the SDK defaults apply. */
  readonly s3Endpoint?: string;
}

/** Every setting of the upload API, read and validated once (a bad deploy fails at cold start). */
export function readUploadApiConfig(env: Env): UploadApiConfig {
  return Object.freeze({
    upload: readUploadSettings(env),
    search: readAthenaSearchSettings(env),
    s3Endpoint: env.AWS_ENDPOINT_URL_S3 || undefined,
  });
}

/**
 * The upload API (API Gateway HTTP API, payload v2): `POST /uploads` presigns a POST for a new
 * upload, `GET /uploads/{id}` reports its status from the sidecar, `GET /search` (when the stack
 * deploys search) queries the sidecars with Athena.
 */
export function createUploadApi(
  config: UploadApiConfig,
  deps: { readonly logger?: Logger; readonly s3?: S3Client } = {},
): UploadApiLambda {
  const logger = deps.logger ?? serviceLogger({ function: 'upload-api' });
  const { upload, search } = config;
  const store = new S3ObjectStore({ bucket: upload.bucket, endpoint: config.s3Endpoint, client: deps.s3 });
  const api = createUploadApiHandler({
    settings: upload,
    store,
    // One S3 client per process: the signer shares the store's.
    signer: new S3UploadSigner({ bucket: upload.bucket, client: store.client }),
    logger,
    search: search
      ? createAthenaSearch({
          runner: new AthenaSqlRunner({ workGroup: search.workGroup, database: search.table.database }),
          table: search.table,
          onQuery: (info) => logger.info('athena query', info),
        })
      : undefined,
  });
  return withPowertools((event: APIGatewayProxyEventV2) => api(event), { logger });
}
