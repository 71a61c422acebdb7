/**
 * The production adapters: the only code that calls the AWS SDK, each implementing a port of
 * layers/engine/ports.ts, plus the Lambda glue (Powertools logger and metrics behind its
 * middleware, its parser schemas for S3 and SQS events, batch processing). Local
 * stand-ins live in layers/emulators/.
 *
 * aws-runtime.ts composes a stage's engine and adapters from config, so it loads the models'
 * native code: it is imported by its own path (see layers/engine/index.ts for the rule).
 */

export { AthenaSqlRunner } from './athena-search.ts';
export { readVectorIndexTarget, type VectorIndexTarget } from './aws-config.ts';
export {
  InvalidEventError,
  parseDetailedJobRecord,
  parseS3Notification,
  type S3Notification,
} from './lambda-events.ts';
export { LambdaFastTrigger } from './lambda-fast-trigger.ts';
export { detailedHandler, fastHandler, reportModelLoad, stageObservability } from './lambda-handlers.ts';
export { type Observability, serviceLogger, serviceObservability, withPowertools } from './powertools.ts';
export { S3ObjectStore } from './s3-object-store.ts';
export { S3UploadSigner } from './s3-upload-signer.ts';
export { S3VectorsIndex } from './s3-vectors-index.ts';
export { SqsJobQueue } from './sqs-job-queue.ts';

export const IMPORTED_ON_THEIR_OWN: readonly string[] = ['aws-runtime.ts'];
