import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { AthenaSqlRunner } from '#adapters/athena-search.ts';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { S3UploadSigner } from '#adapters/s3-upload-signer.ts';
import { createAthenaSearch, readAthenaSearchSettings } from '#engine/search/athena-engine.ts';
import { createUploadApiHandler } from '#engine/uploads/http-api.ts';
import { readUploadSettings } from '#engine/uploads/settings.ts';

/**
 * Upload API Lambda (API Gateway HTTP API, payload v2): `POST /uploads` presigns a POST for a new
 * upload, `GET /uploads/{id}` reports its status from the sidecar, `GET /search` (when the stack
 * deploys search) queries the sidecars with Athena. Configuration and clients are
 * created once per process; a bad deploy (no BUCKET_NAME, bad prefix) fails at cold start.
 */
const settings = readUploadSettings(process.env);
const searchSettings = readAthenaSearchSettings(process.env);
const logger = new Logger({ serviceName: 'upload-api' });
// AWS_ENDPOINT_URL_S3 is set only by the local stack (loopback S3); in Lambda the SDK defaults apply.
const store = new S3ObjectStore({
  bucket: settings.bucket,
  endpoint: process.env.AWS_ENDPOINT_URL_S3 || undefined,
});

const api = createUploadApiHandler({
  settings,
  store,
  // One S3 client per process: the signer shares the store's.
  signer: new S3UploadSigner({ bucket: settings.bucket, client: store.client }),
  logger,
  search: searchSettings
    ? createAthenaSearch({
        runner: new AthenaSqlRunner({
          workGroup: searchSettings.workGroup,
          database: searchSettings.table.database,
        }),
        table: searchSettings.table,
        onQuery: (info) => logger.info('athena query', info),
      })
    : undefined,
});

export async function handler(
  event: APIGatewayProxyEventV2,
  context?: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  if (context) logger.addContext(context);
  return api(event);
}
