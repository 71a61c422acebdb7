import '../node-support.ts';
import { SqsPoller } from '#adapters/sqs-poller.ts';
import { ENV, readIntegerEnv, readRequiredEnv } from '#engine/settings.ts';
import { STOP_GRACE_MS, type StopMessage, WORKER_ENV, type WorkerMessage } from './child-worker.ts';
import { loadDetailedHandler } from './handlers.ts';
import { lambdaContext } from './lambda-context.ts';

/**
 * The detailed worker as its own process (forked by the local stack with `--worker-process`, and by
 * the soak bench so that "the worker was killed" means SIGKILL). It inherits the environment the
 * stack set for the Lambda handlers and reports its batches to the parent over IPC.
 */
const send = (message: WorkerMessage) => process.send?.(message);

const handler = await loadDetailedHandler();
const poller = new SqsPoller({
  endpoint: process.env.AWS_ENDPOINT_URL_SQS,
  queueUrl: readRequiredEnv(process.env, ENV.DETAILED_QUEUE_URL),
  batchSize: readIntegerEnv(process.env, WORKER_ENV.BATCH_SIZE, 1, 1),
  waitTimeSeconds: readIntegerEnv(process.env, WORKER_ENV.WAIT_SECONDS, 5, 0),
  handler: (event) => handler(event, lambdaContext('describe-detailed')),
  onBatch: (state) => send({ type: 'batch', ...state }),
  onError: (error) =>
    send({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
}).start();

let stopping = false;
const stop = (graceMs: number | undefined) => {
  if (stopping) return;
  stopping = true;
  void poller.stop(graceMs).then(() => process.exit(0));
};
process.on('message', (message: StopMessage) => {
  if (message?.type === 'stop') stop(message.graceMs);
});
// Ctrl+C reaches the whole process group: finish or give back the batch, as the parent would ask.
process.on('SIGINT', () => stop(STOP_GRACE_MS));
process.on('SIGTERM', () => stop(STOP_GRACE_MS));
// The stack went away without telling us: do not linger.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
