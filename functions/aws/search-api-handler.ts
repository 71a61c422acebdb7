import type { Logger } from '@aws-lambda-powertools/logger';
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3VectorsClient } from '@aws-sdk/client-s3vectors';
import {
  AthenaSqlRunner,
  readVectorIndexTarget,
  S3ObjectStore,
  S3VectorsIndex,
  serviceLogger,
  type VectorIndexTarget,
  withPowertools,
} from '#adapters/index.ts';
import { ConfigError, ENV, type Env, expected, readEngineSettings, readRequiredEnv } from '#engine/index.ts';
import { type KeyLayout, readKeyLayout } from '#engine/pipeline/index.ts';
import {
  type AthenaSearchSettings,
  createAthenaSearch,
  readAthenaSearchSettings,
  sidecarHybridSearch,
} from '#engine/search/index.ts';
import { openQueryEmbedder } from '#engine/search/query-embedder.ts';
import { createSearchApiHandler } from '#engine/uploads/index.ts';
import type { UploadApiLambda } from './upload-api-handler.ts';

/**
 * The search function's composition root: `GET /search` by words and by meaning. It runs in the
 * fast function's container image (a different handler), which already carries the embedding
 * model, so the upload API's zip function never loads onnxruntime. Keywords come from Athena,
 * neighbours from S3 Vectors, and the two are fused by the shared HybridSearch.
 */

export interface SearchApiConfig {
  readonly bucket: string;
  readonly layout: KeyLayout;
  readonly athena: AthenaSearchSettings;
  readonly vectors: VectorIndexTarget;
  /** The model set whose embedding task embeds the query (the image's /opt/models). */
  readonly modelsDir: string;
  /** ONNX Runtime threads for the text tower (0: its default). */
  readonly threads: number;
  /** A loopback S3 (tests); absent in Lambda. */
  readonly s3Endpoint?: string;
}

/** Read and validated once at cold start: a stack without Athena or S3 Vectors settings fails here. */
export function readSearchApiConfig(env: Env): SearchApiConfig {
  const athena = readAthenaSearchSettings(env);
  if (!athena)
    throw new ConfigError(expected('the Athena workgroup of the search', ENV.SEARCH_WORKGROUP, undefined));
  const vectors = readVectorIndexTarget(env);
  if (!vectors)
    throw new ConfigError(expected('the S3 Vectors index of the search', ENV.VECTOR_INDEX_ARN, undefined));
  const engine = readEngineSettings(env);
  return Object.freeze({
    bucket: readRequiredEnv(env, ENV.BUCKET_NAME),
    layout: readKeyLayout(env),
    athena,
    vectors,
    modelsDir: engine.modelsDir,
    threads: engine.threads,
    s3Endpoint: env.AWS_ENDPOINT_URL_S3 || undefined,
  });
}

/**
 * `GET /search?q=…` (keywords and meaning fused; keywords only, with a notice, while the embedding
 * model is missing) and `GET /search?similar=<key>` (nearest neighbours), same JSON as the local API.
 */
export async function createSearchApi(
  config: SearchApiConfig,
  deps: {
    readonly logger?: Logger;
    readonly s3?: S3Client;
    readonly athena?: AthenaClient;
    readonly s3vectors?: S3VectorsClient;
  } = {},
): Promise<UploadApiLambda> {
  const logger = deps.logger ?? serviceLogger({ function: 'search-api' });
  // Opening the model set loads nothing: the text tower loads on the first query with words.
  const { embedder } = await openQueryEmbedder(config.modelsDir, config.threads);
  const search = sidecarHybridSearch({
    keyword: createAthenaSearch({
      runner: new AthenaSqlRunner({
        workGroup: config.athena.workGroup,
        database: config.athena.table.database,
        client: deps.athena,
      }),
      table: config.athena.table,
      onQuery: (info) => logger.info('athena query', info),
    }),
    vectors: new S3VectorsIndex({ ...config.vectors, client: deps.s3vectors }),
    ...(embedder ? { embedder } : {}),
    store: new S3ObjectStore({ bucket: config.bucket, endpoint: config.s3Endpoint, client: deps.s3 }),
    layout: config.layout,
  });
  const api = createSearchApiHandler({ search: (query) => search.search(query), logger });
  return withPowertools((event: Parameters<UploadApiLambda>[0]) => api(event), { logger });
}
