import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DetailedWorker } from '#adapters/sqs-poller.ts';

export const WORKER_ENV = {
  BATCH_SIZE: 'LOCAL_WORKER_BATCH_SIZE',
  WAIT_SECONDS: 'LOCAL_WORKER_WAIT_SECONDS',
} as const;

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'batch'; busy: number; batches: number; redelivered: number }
  | { type: 'error'; message: string };

/**
 * How long a stopping stack lets the image in hand finish before giving it back: the detailed job
 * to the queue (visibility 0), the fast stage to the next start's scan. Short, so that a signal
 * frees the ports within a few seconds (start.ts exits anyway after HARD_EXIT_MS).
 */
export const STOP_GRACE_MS = 3_000;
/** Longest a stop may take before npm start exits anyway. */
export const HARD_EXIT_MS = 8_000;

/** Parent → worker: stop polling (see SqsPoller.stop for graceMs). */
export type StopMessage = { type: 'stop'; graceMs?: number };

const WORKER_SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url));

/** The parent's view of a detailed worker running in a child process. */
export class ChildWorker implements DetailedWorker {
  busy = 0;
  batches = 0;
  redelivered = 0;

  private constructor(private readonly child: ChildProcess) {}

  /** Fork the worker (it inherits the handlers' environment) and wait until it polls. */
  static async start(options: {
    batchSize: number;
    waitTimeSeconds: number;
    onError?: (error: unknown) => void;
  }): Promise<ChildWorker> {
    const child = fork(WORKER_SCRIPT, [], {
      env: {
        ...process.env,
        [WORKER_ENV.BATCH_SIZE]: String(options.batchSize),
        [WORKER_ENV.WAIT_SECONDS]: String(options.waitTimeSeconds),
      },
      // Run the TypeScript entry with the same loader as `npm start`.
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker = new ChildWorker(child);
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`Detailed worker process exited (${code}) before it was ready`));
      child.once('exit', onExit);
      child.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') {
          child.off('exit', onExit);
          resolve();
        } else if (message.type === 'batch') {
          worker.busy = message.busy;
          worker.batches = message.batches;
          worker.redelivered = message.redelivered;
        } else if (message.type === 'error') {
          options.onError?.(new Error(message.message));
        }
      });
    });
    return worker;
  }

  /** Graceful (see SqsPoller.stop); a child that does not exit 3 s after the grace is killed. */
  async stop(graceMs?: number): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'stop', graceMs } satisfies StopMessage);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), (graceMs ?? 7_000) + 3_000);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILL: the batch in flight is neither finished nor deleted. */
  kill(): void {
    this.child.kill('SIGKILL');
  }
}
