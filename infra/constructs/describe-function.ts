import { Duration, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ENV, powertoolsEnvironment } from '#engine/index.ts';
import { threadsForMemory } from '../sizing.ts';
import type { DescriptionBucket } from './description-bucket.ts';
import { FunctionIdentity } from './lambda-basics.ts';

export interface DescribeFunctionOptions {
  readonly description: string;
  /** The container image with the stage's models baked in (its CMD names the handler). */
  readonly code: lambda.DockerImageCode;
  /** Where images are read from and sidecars written to. */
  readonly bucket: DescriptionBucket;
  readonly memoryMB: number;
  readonly timeoutSeconds: number;
  readonly logRetention?: logs.RetentionDays;
  /** The stage's own variables, after the bucket's, the threads and the observability ones. */
  readonly environment: Readonly<Record<string, string>>;
  /** Settings only this stage's function has (asynchronous invoke, reserved concurrency). */
  readonly invoke?: Pick<
    lambda.DockerImageFunctionProps,
    'reservedConcurrentExecutions' | 'maxEventAge' | 'retryAttempts' | 'onFailure'
  >;
}

/**
 * A describe stage's container function, as both stages deploy it: ARM, its own log group and
 * role, the bucket's names and onnxruntime's thread count in its environment, read access to the
 * uploads and read-write access to the sidecars (a missing key answers 404, not 403). Created as
 * `Identity` and `Function` children of `scope`, so the template's logical ids are the scope's.
 */
export function describeFunction(
  scope: Construct,
  options: DescribeFunctionOptions,
): { fn: lambda.DockerImageFunction; identity: FunctionIdentity } {
  const { bucket } = options;
  const identity = new FunctionIdentity(scope, 'Identity', { logRetention: options.logRetention });
  const fn = new lambda.DockerImageFunction(scope, 'Function', {
    description: options.description,
    code: options.code,
    architecture: lambda.Architecture.ARM_64,
    memorySize: options.memoryMB,
    timeout: Duration.seconds(options.timeoutSeconds),
    role: identity.role,
    logGroup: identity.logGroup,
    ...options.invoke,
    environment: {
      ...powertoolsEnvironment(),
      [ENV.BUCKET_NAME]: bucket.bucket.bucketName,
      [ENV.INPUT_PREFIX]: bucket.inputPrefix,
      [ENV.SIDECAR_PREFIX]: bucket.sidecarPrefix,
      [ENV.ORT_THREADS]: String(threadsForMemory(options.memoryMB)),
      ...options.environment,
    },
  });

  bucket.grantReadInputs(fn);
  bucket.grantReadWriteSidecars(fn);
  bucket.grantMissingKeysAs404(fn);
  const policy = identity.role.node.tryFindChild('DefaultPolicy');
  if (policy) {
    for (const pattern of [`${bucket.inputPrefix}*`, `${bucket.sidecarPrefix}*`]) {
      Validations.of(policy).acknowledge({
        id: bucket.wildcardFindingId(pattern),
        reason: `Object access is scoped to the "${pattern}" key prefix of the description bucket; the keys are not known in advance.`,
      });
    }
  }
  return { fn, identity };
}
