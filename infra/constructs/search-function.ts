import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV, powertoolsEnvironment } from '#engine/index.ts';
import { assertMemory, threadsForMemory } from '../sizing.ts';
import type { DescriptionBucket } from './description-bucket.ts';
import type { DescriptionSearch } from './description-search.ts';
import type { DescriptionVectors } from './description-vectors.ts';
import { FunctionIdentity } from './lambda-basics.ts';
import { SEARCH_FUNCTION_TIMEOUT_SECONDS } from './upload-api.ts';

/** The handler the search function runs in the fast image (functions/aws/search-api.ts, bundled). */
export const SEARCH_HANDLER_CMD = ['dist/functions/search-api.handler'];

export interface SearchFunctionProps {
  readonly bucket: DescriptionBucket;
  /** Keyword half: the Athena workgroup and Glue table over the sidecars. */
  readonly search: DescriptionSearch;
  /** Meaning half: the image vectors. */
  readonly vectors: DescriptionVectors;
  /** The fast function's image (it carries the embedding model); run with SEARCH_HANDLER_CMD. */
  readonly code: lambda.DockerImageCode;
  /**
   * One short text through the CLIP text tower (q8, ~64 MB of weights) per new query, plus the
   * runtime: far under 1 GB. 1536 MB for most of one vCPU, so the first query's model load is quick.
   * @default 1536
   */
  readonly memoryMB?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * `GET /search` by words and by meaning: a container-image function (the fast image, another CMD)
 * that embeds the query with the text tower, asks S3 Vectors for neighbours and Athena for keyword
 * matches, and fuses them. May query that index and that workgroup, and read sidecars; nothing else.
 */
export class SearchFunction extends Construct {
  public readonly fn: lambda.DockerImageFunction;
  public readonly identity: FunctionIdentity;

  constructor(scope: Construct, id: string, props: SearchFunctionProps) {
    super(scope, id);
    const memoryMB = props.memoryMB ?? 1536;
    assertMemory(memoryMB, 'memoryMB');
    this.identity = new FunctionIdentity(this, 'Identity', { logRetention: props.logRetention });
    this.fn = new lambda.DockerImageFunction(this, 'Function', {
      description: 'image-describer: search by words and by meaning (GET /search)',
      code: props.code,
      architecture: lambda.Architecture.ARM_64,
      memorySize: memoryMB,
      // Athena's wait (the handler's deadline) plus the query embedding, under API Gateway's 30 s.
      timeout: Duration.seconds(SEARCH_FUNCTION_TIMEOUT_SECONDS),
      role: this.identity.role,
      logGroup: this.identity.logGroup,
      environment: {
        ...powertoolsEnvironment(),
        [ENV.BUCKET_NAME]: props.bucket.bucket.bucketName,
        [ENV.INPUT_PREFIX]: props.bucket.inputPrefix,
        [ENV.SIDECAR_PREFIX]: props.bucket.sidecarPrefix,
        [ENV.ORT_THREADS]: String(threadsForMemory(memoryMB)),
        ...props.search.environment(),
        ...props.vectors.environment(),
      },
    });
    props.search.grantSearch(this.fn);
    // Results found only by meaning are read from their sidecars; a missing one is a 404, not a 403.
    props.bucket.grantMissingKeysAs404(this.fn);
    props.vectors.grant(this.fn, 'query');
    const policy = this.identity.role.node.tryFindChild('DefaultPolicy');
    if (policy) props.search.acknowledgeSearchWildcards(policy);
  }
}
