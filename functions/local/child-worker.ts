import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AwsConfig } from '#adapters/aws-runtime.ts';
import type { DetailedWorker } from '#emulators/index.ts';
import { packagePath } from '#engine/index.ts';

/** Everything the worker process runs with, passed to it as JSON (its only argument). */
export interface WorkerConfig {
  readonly detailed: AwsConfig;
  readonly endpoints: { readonly s3: string; readonly sqs: string };
  readonly queueUrl: string;
  readonly batchSize: number;
  readonly waitTimeSeconds: number;
  readonly logLevel: string;
}

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
/**
 * How long a worker process may take after the grace (give the batch back, exit) before it is
 * killed. The worker and the fast stage stop at the same time, so a busy stop takes at most
 * STOP_GRACE_MS + CHILD_KILL_MARGIN_MS before the servers close, well within HARD_EXIT_MS.
 */
export const CHILD_KILL_MARGIN_MS = 2_000;
/** The grace of a stop() without one (restartWorker without a crash). */
const DEFAULT_GRACE_MS = 7_000;

/** Parent → worker: stop polling (see SqsPoller.stop for graceMs). */
export type StopMessage = { type: 'stop'; graceMs?: number };

/**
 * The worker's entry point in the same form as this module: the built JavaScript under `npm start`
 * (plain node), the TypeScript source under tsx (tests, development).
 */
const COMPILED = !import.meta.url.endsWith('.ts');
const WORKER_SCRIPT = COMPILED
  ? packagePath('dist', 'app', 'worker-process.mjs')
  : fileURLToPath(new URL('./worker-process.ts', import.meta.url));

/** The parent's view of a detailed worker running in a child process. */
export class ChildWorker implements DetailedWorker {
  busy = 0;
  batches = 0;
  redelivered = 0;

  private constructor(private readonly child: ChildProcess) {}

  /** Fork the worker with its config and wait until it polls. */
  static async start(options: {
    config: WorkerConfig;
    onError?: (error: unknown) => void;
  }): Promise<ChildWorker> {
    const child = fork(WORKER_SCRIPT, [JSON.stringify(options.config)], {
      execArgv: COMPILED ? [] : ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return ChildWorker.attach(child, options.onError);
  }

  /**
   * The parent's side of a forked worker (start() forks worker-process.ts; tests fork stand-ins):
   * resolves once the child reports ready.
   */
  static async attach(child: ChildProcess, onError?: (error: unknown) => void): Promise<ChildWorker> {
    const worker = new ChildWorker(child);
    // Without a listener an 'error' event kills this process. A send to a closed channel (the child
    // already going away) is no error worth a line; anything else (spawn, kill) is reported.
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ERR_IPC_CHANNEL_CLOSED') onError?.(error);
    });
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
          onError?.(new Error(message.message));
        }
      });
    });
    return worker;
  }

  /**
   * Graceful (see SqsPoller.stop); a child that has not exited CHILD_KILL_MARGIN_MS after the grace
   * is killed. Ctrl+C signals the whole process group, so an idle child may be gone or going (its
   * channel closed, its exit not yet seen) before this is called: then there is nothing to send,
   * only its exit to wait for.
   */
  async stop(graceMs?: number): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const connected = child.connected;
    // The callback keeps a send that races the channel's close from becoming an 'error' event.
    if (connected) child.send({ type: 'stop', graceMs } satisfies StopMessage, () => undefined);
    const wait = connected ? (graceMs ?? DEFAULT_GRACE_MS) + CHILD_KILL_MARGIN_MS : CHILD_KILL_MARGIN_MS;
    const timer = setTimeout(() => child.kill('SIGKILL'), wait);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILL: the batch in flight is neither finished nor deleted. */
  kill(): void {
    this.child.kill('SIGKILL');
  }
}
