import { ConfigError, expected } from '#engine/errors.ts';
import { ENV, type Env, readRequiredEnv } from '#engine/settings.ts';

/**
 * Client settings shared by the S3 and SQS adapters. In Lambda nothing is set and the SDK uses
 * the function's region and role. For loopback servers (tests, local stack) pass an endpoint:
 * path-style addressing is then forced (no `<bucket>.127.0.0.1` host names) and, if none are in
 * the environment, dummy credentials are used (local servers do not check signatures).
 */
export interface AwsClientOptions {
  readonly endpoint?: string;
  readonly region?: string;
}

export function awsClientConfig(options: AwsClientOptions = {}) {
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  if (!options.endpoint) return { region };
  const hasCredentials = Boolean(process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY);
  return {
    region,
    endpoint: options.endpoint,
    forcePathStyle: true,
    ...(hasCredentials ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  };
}

/** Where the Lambda handlers find their bucket and queue; read once at cold start. */
export interface AwsTargets {
  readonly bucket: string;
  /** Detailed job queue (the fast stage sends to it; the worker needs none). */
  readonly detailedQueueUrl?: string;
  /** The SDK's standard endpoint overrides, honoured here so path-style is forced for them. */
  readonly s3Endpoint?: string;
  readonly sqsEndpoint?: string;
  /** S3 Vectors index the stage keeps in step with its sidecars; absent without vector search. */
  readonly vectors?: VectorIndexTarget;
}

/** The S3 Vectors index of the image vectors, by ARN (what infra/ creates and scopes IAM to). */
export interface VectorIndexTarget {
  readonly indexArn: string;
}

/** Absent when the stack deploys no vector index; a value that is not an index ARN fails at cold start. */
export function readVectorIndexTarget(env: Env): VectorIndexTarget | undefined {
  const indexArn = env[ENV.VECTOR_INDEX_ARN];
  if (!indexArn) return undefined;
  if (!/^arn:aws[\w-]*:s3vectors:[\w-]+:\d{12}:bucket\/[^/]+\/index\/[^/]+$/.test(indexArn)) {
    throw new ConfigError(
      expected(
        'an S3 Vectors index ARN (arn:aws:s3vectors:<region>:<account>:bucket/<bucket>/index/<index>)',
        ENV.VECTOR_INDEX_ARN,
        indexArn,
      ),
    );
  }
  return Object.freeze({ indexArn });
}

export function readAwsTargets(env: Env, options: { needsQueue: boolean }): AwsTargets {
  return Object.freeze({
    bucket: readRequiredEnv(env, ENV.BUCKET_NAME),
    detailedQueueUrl: options.needsQueue ? readRequiredEnv(env, ENV.DETAILED_QUEUE_URL) : undefined,
    s3Endpoint: env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined,
    sqsEndpoint: env.AWS_ENDPOINT_URL_SQS || env.AWS_ENDPOINT_URL || undefined,
    vectors: readVectorIndexTarget(env),
  });
}
