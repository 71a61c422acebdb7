import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ConfigError, expected } from '#engine/index.ts';
import { DEFAULT_KEY_LAYOUT } from '#engine/pipeline/index.ts';

export interface DescriptionBucketProps {
  /**
   * Key prefix the uploads go under; the only prefix that triggers a description.
   * @default 'images/'
   */
  readonly inputPrefix?: string;
  /**
   * Key prefix the sidecars are written under (`<sidecarPrefix><key without inputPrefix>.json`).
   * Must not overlap the input prefix, so a sidecar can never trigger a description.
   * @default 'descriptions/'
   */
  readonly sidecarPrefix?: string;
  /**
   * Keep earlier versions of overwritten or deleted objects (users' originals) for a while.
   * @default true
   */
  readonly versioned?: boolean;
  /**
   * How long an overwritten or deleted version is kept before it expires (versioned buckets only).
   * @default Duration.days(30)
   */
  readonly noncurrentVersionRetention?: Duration;
  /**
   * Browser origins allowed to POST uploads straight to the bucket (presigned POST).
   * @default - none: no CORS rule, browsers on other origins cannot upload
   */
  readonly corsOrigins?: readonly string[];
  /**
   * What happens to the bucket when the stack is deleted. DESTROY only succeeds on an empty bucket.
   * @default RemovalPolicy.RETAIN (the images and descriptions are the user's data)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long S3 server access logs are kept.
   * @default Duration.days(90)
   */
  readonly accessLogRetention?: Duration;
}

/** The handlers' defaults, so an unconfigured stack and unconfigured functions agree. */
export const DEFAULT_INPUT_PREFIX = DEFAULT_KEY_LAYOUT.inputPrefix;
export const DEFAULT_SIDECAR_PREFIX = DEFAULT_KEY_LAYOUT.sidecarPrefix;

/**
 * The bucket users drop images into and read descriptions from, with its access-log bucket.
 * It owns the key layout: grants are scoped to the input or the sidecar prefix, never the whole bucket.
 */
export class DescriptionBucket extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly accessLogBucket: s3.Bucket;
  public readonly inputPrefix: string;
  public readonly sidecarPrefix: string;

  constructor(scope: Construct, id: string, props: DescriptionBucketProps = {}) {
    super(scope, id);
    this.inputPrefix = props.inputPrefix ?? DEFAULT_INPUT_PREFIX;
    this.sidecarPrefix = props.sidecarPrefix ?? DEFAULT_SIDECAR_PREFIX;
    assertKeyPrefix(this.inputPrefix, 'inputPrefix');
    assertKeyPrefix(this.sidecarPrefix, 'sidecarPrefix');
    if (this.inputPrefix.startsWith(this.sidecarPrefix) || this.sidecarPrefix.startsWith(this.inputPrefix)) {
      throw new ConfigError(
        expected(
          `a prefix that does not overlap inputPrefix "${this.inputPrefix}"`,
          'sidecarPrefix',
          this.sidecarPrefix,
        ),
      );
    }
    const corsOrigins = props.corsOrigins ?? [];
    corsOrigins.forEach((origin, i) => {
      assertOrigin(origin, `corsOrigins[${i}]`);
    });
    // Log delivery through a bucket policy (not ACLs), whatever the app's feature flags: both buckets
    // disable ACLs (BucketOwnerEnforced).
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const versioned = props.versioned ?? true;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // S3 log delivery only writes to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: props.accessLogRetention ?? Duration.days(90) }],
      removalPolicy,
    });
    Validations.of(this.accessLogBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the access-log target of the description bucket; logging it would log its own log writes.',
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // SSE-S3: no KMS key to pay for or to grant to every function and presigned POST.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'description-bucket/',
      lifecycleRules: [
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...(versioned
          ? [
              {
                id: 'expire-noncurrent-versions',
                noncurrentVersionExpiration: props.noncurrentVersionRetention ?? Duration.days(30),
              },
            ]
          : []),
      ],
      cors:
        corsOrigins.length > 0
          ? [
              {
                // Browsers send the presigned POST form straight to S3 and must read the response.
                allowedMethods: [s3.HttpMethods.POST],
                allowedOrigins: [...corsOrigins],
                allowedHeaders: ['*'],
                exposedHeaders: ['ETag', 'Location'],
                maxAge: 3000,
              },
            ]
          : undefined,
      removalPolicy,
    });
  }

  /** `arn:...:bucket/<inputPrefix><pattern>` */
  public inputObjectsArn(pattern = '*'): string {
    return this.bucket.arnForObjects(`${this.inputPrefix}${pattern}`);
  }

  /** `arn:...:bucket/<sidecarPrefix><pattern>` */
  public sidecarObjectsArn(pattern = '*'): string {
    return this.bucket.arnForObjects(`${this.sidecarPrefix}${pattern}`);
  }

  /**
   * s3:ListBucket on this bucket only. Without it S3 answers 403 instead of 404 for a missing key, and
   * "no sidecar yet" / "not uploaded yet" could not be told apart from a real permission problem.
   * It reveals key names, never contents.
   */
  public grantMissingKeysAs404(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
  }

  /** Read (GET and HEAD) uploads under the input prefix, optionally narrowed to a sub-prefix. */
  public grantReadInputs(grantee: iam.IGrantable, subPrefix = ''): void {
    this.addObjectStatement(grantee, ['s3:GetObject'], this.inputObjectsArn(`${subPrefix}*`));
  }

  /** Write (sign presigned POSTs) under the input prefix, optionally narrowed to a sub-prefix. */
  public grantWriteInputs(grantee: iam.IGrantable, subPrefix = ''): void {
    this.addObjectStatement(grantee, ['s3:PutObject'], this.inputObjectsArn(`${subPrefix}*`));
  }

  /** Read sidecars, optionally narrowed to a sub-prefix. */
  public grantReadSidecars(grantee: iam.IGrantable, subPrefix = ''): void {
    this.addObjectStatement(grantee, ['s3:GetObject'], this.sidecarObjectsArn(`${subPrefix}*`));
  }

  /** Read and (conditionally) write sidecars: If-None-Match / If-Match writes need only s3:PutObject. */
  public grantReadWriteSidecars(grantee: iam.IGrantable): void {
    this.addObjectStatement(grantee, ['s3:GetObject', 's3:PutObject'], this.sidecarObjectsArn('*'));
  }

  /**
   * The cdk-nag finding id of a prefix-scoped object ARN, for acknowledging exactly that wildcard
   * (and nothing broader) on a grantee's policy.
   */
  public wildcardFindingId(objectPattern: string): string {
    const stack = Stack.of(this);
    const logicalId = stack.resolve(stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket));
    return `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${objectPattern}]`;
  }

  private addObjectStatement(grantee: iam.IGrantable, actions: string[], resource: string): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [resource] }));
  }
}

/** A key prefix: non-empty, ends with '/', no leading '/', no wildcards or control characters. */
export function assertKeyPrefix(prefix: string, name: string): void {
  const ok =
    typeof prefix === 'string' &&
    /^[A-Za-z0-9!\-_.'()/]+\/$/.test(prefix) &&
    !prefix.startsWith('/') &&
    !prefix.includes('//');
  if (!ok) throw new ConfigError(expected('a key prefix like "images/" (ending in "/")', name, prefix));
}

/** A browser origin: scheme://host[:port], no path, no wildcard. */
export function assertOrigin(origin: string, name: string): void {
  let url: URL | undefined;
  try {
    url = new URL(origin);
  } catch {
    url = undefined;
  }
  const ok =
    url !== undefined &&
    (url.protocol === 'https:' || url.protocol === 'http:') &&
    url.origin === origin &&
    !origin.includes('*');
  if (!ok)
    throw new ConfigError(expected('an origin like https://app.example.com (no path, no *)', name, origin));
}
