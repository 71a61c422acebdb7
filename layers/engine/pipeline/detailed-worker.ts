/**
 * How the detailed worker consumes its queue: deployed by infra/ (DetailedDescribeWorker) and
 * repeated by the local stack, so the laptop behaves like the account.
 */

/** AWS guidance for SQS-triggered functions: visibility timeout at least 6x the function timeout. */
export const VISIBILITY_TO_TIMEOUT_RATIO = 6;

export const DETAILED_WORKER_DEFAULTS = Object.freeze({
  /** One image per invocation: each gets the whole timeout, and a slow image never delays others. */
  batchSize: 1,
  /** One detailed description (batch size 1) must fit; generous for a cold start. */
  timeoutSeconds: 300,
  /** Receives before a job moves to the DLQ. */
  maxReceiveCount: 3,
  visibilityTimeoutSeconds: 300 * VISIBILITY_TO_TIMEOUT_RATIO,
});
