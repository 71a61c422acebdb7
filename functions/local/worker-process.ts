import '../node-support.ts';
import { SqsPoller } from '#adapters/sqs-poller.ts';
import { ENV, readIntegerEnv, readRequiredEnv } from '#engine/settings.ts';
import { WORKER_ENV, type WorkerMessage } from './child-worker.ts';
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

process.on('message', (message) => {
  if (message === 'stop') void poller.stop().then(() => process.exit(0));
});
// The stack went away without telling us: do not linger.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
