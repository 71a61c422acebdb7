/**
 * How the detailed worker consumes its queue: deployed by infra/ (DetailedDescribeWorker) and
 * repeated by the local stack, so the laptop behaves like the account.
 */

/** AWS guidance for SQS-triggered functions: visibility timeout at least 6x the function timeout. */
export const VISIBILITY_TO_TIMEOUT_RATIO = 6;

export const DETAILED_WORKER_DEFAULTS = Object.freeze({
  /** One image per invocation: each gets the whole timeout, and a slow image never delays others. */
  batchSize: 1,
  /**
   * One detailed description (batch size 1) plus a cold start, derived in infra/sizing.ts
   * (deriveSizing: Florence-2 + OCR at their caps x 1.5; a test keeps the two equal).
   */
  timeoutSeconds: 90,
  /** Receives before a job moves to the DLQ. */
  maxReceiveCount: 3,
  visibilityTimeoutSeconds: 90 * VISIBILITY_TO_TIMEOUT_RATIO,
});
