import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3vectors from 'aws-cdk-lib/aws-s3vectors';
import { Construct } from 'constructs';
import { ConfigError, ENV, expected } from '#engine/index.ts';
import { assertIntegerInRange } from '../sizing.ts';

export interface DescriptionVectorsProps {
  /** The embedding model's vector length (manifest `tasks.embedding.dimensions`). */
  readonly dimension: number;
  /**
   * Every property of an index is fixed at creation, so a changed dimension replaces it, and
   * CloudFormation replaces only resources whose name changes: the default name carries the
   * dimension. A name given here must change with the dimension too.
   * @default `images-<dimension>d`
   */
  readonly indexName?: string;
  /**
   * The vectors can be rebuilt by describing the images again, but that reruns the fast stage for
   * every image: keep them with the bucket by default.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The index's default name: a new embedding length gives a new index (see `indexName`). */
export function defaultVectorIndexName(dimension: number): string {
  return `images-${dimension}d`;
}

/** S3 Vectors index names: 3-63 characters, lowercase letters, digits, '-' and '.', a letter or digit at both ends. */
const INDEX_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** What a function may do on the index: each grant lists exactly these actions on its ARN. */
export const VECTOR_ACTIONS = Object.freeze({
  /** The fast function: put an image's vector, remove it when the image or sidecar goes. */
  write: ['s3vectors:PutVectors', 's3vectors:DeleteVectors'],
  /** The search function: neighbours (with a metadata filter, which needs GetVectors too) and an image's own vector. */
  query: ['s3vectors:QueryVectors', 's3vectors:GetVectors'],
});

/**
 * An S3 Vectors bucket and one cosine index of float32 image embeddings, SSE-S3 encrypted. Every
 * metadata key the stage functions write is filterable (the search filters: colour families,
 * labels, category ids, upload time, has-text, stage states, model key) and there is no
 * non-filterable metadata: results are read from the sidecars. Grants are per action set, on the
 * index ARN only.
 */
export class DescriptionVectors extends Construct {
  public readonly vectorBucket: s3vectors.CfnVectorBucket;
  public readonly index: s3vectors.CfnIndex;
  public readonly indexName: string;
  public readonly dimension: number;

  constructor(scope: Construct, id: string, props: DescriptionVectorsProps) {
    super(scope, id);
    assertIntegerInRange(props.dimension, 1, 4096, 'dimension');
    this.dimension = props.dimension;
    this.indexName = props.indexName ?? defaultVectorIndexName(props.dimension);
    if (!INDEX_NAME.test(this.indexName)) {
      throw new ConfigError(
        expected(
          "an S3 Vectors index name (3-63 characters: lowercase letters, digits, '-' and '.', a letter or digit at both ends)",
          'vectorSearch.indexName',
          this.indexName,
        ),
      );
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.vectorBucket = new s3vectors.CfnVectorBucket(this, 'Bucket', {
      encryptionConfiguration: { sseType: 'AES256' },
    });
    this.vectorBucket.applyRemovalPolicy(removalPolicy);
    this.index = new s3vectors.CfnIndex(this, 'Index', {
      vectorBucketArn: this.vectorBucket.attrVectorBucketArn,
      indexName: this.indexName,
      dataType: 'float32',
      dimension: props.dimension,
      distanceMetric: 'cosine',
      encryptionConfiguration: { sseType: 'AES256' },
    });
    this.index.applyRemovalPolicy(removalPolicy);
  }

  public get indexArn(): string {
    return this.index.attrIndexArn;
  }

  /** The functions' setting naming the index (read by readVectorIndexTarget). */
  public environment(): Record<string, string> {
    return { [ENV.VECTOR_INDEX_ARN]: this.indexArn };
  }

  public grant(grantee: iam.IGrantable, access: keyof typeof VECTOR_ACTIONS): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: [...VECTOR_ACTIONS[access]], resources: [this.indexArn] }),
    );
  }
}
