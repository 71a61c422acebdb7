import '../node-support.ts';
import { localClients, SqsPoller } from '#emulators/index.ts';
import { ConfigError, expected } from '#engine/index.ts';
import { createDetailedHandler } from '../aws/handlers.ts';
import { STOP_GRACE_MS, type StopMessage, type WorkerConfig, type WorkerMessage } from './child-worker.ts';
import { lambdaContext } from './lambda-context.ts';
import { localObservability } from './observability.ts';

/**
 * The detailed worker as its own process (forked by the local stack with `--worker-process`, and by
 * the soak bench so that "the worker was killed" means SIGKILL). Its config comes as its one
 * argument (ChildWorker.start); it builds the detailed function with the factory the deployed
 * module calls and reports its batches to the parent over IPC.
 */
const send = (message: WorkerMessage) => process.send?.(message);

function readWorkerConfig(argument: string | undefined): WorkerConfig {
  try {
    return JSON.parse(argument ?? '') as WorkerConfig;
  } catch {
    throw new ConfigError(expected('the worker config as JSON', 'the first argument', argument));
  }
}

const config = readWorkerConfig(process.argv[2]);
const clients = localClients(config.endpoints);
const handler = await createDetailedHandler(config.detailed, {
  preload: 'if-installed',
  clients,
  observability: localObservability('describe-detailed', config.logLevel),
});
const poller = new SqsPoller({
  sqs: clients.sqs,
  queueUrl: config.queueUrl,
  batchSize: config.batchSize,
  waitTimeSeconds: config.waitTimeSeconds,
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
