import type { S3Event, S3EventRecord } from 'aws-lambda';
import { encodeEventKey } from '#engine/pipeline/index.ts';

export type S3Handler = (event: S3Event) => Promise<unknown>;

/**
 * As S3's notification filter: ObjectCreated:* under the input prefix only. Real S3 notifications
 * URL-encode keys (spaces as '+'); s3rver does not, so the keys are encoded here and the handler decodes.
 */
export function notificationFor(event: S3Event, inputPrefix: string): S3Event | undefined {
  const records: S3EventRecord[] = event.Records.filter(
    (r) => r.eventName.startsWith('ObjectCreated:') && r.s3.object.key.startsWith(inputPrefix),
  ).map((r) => ({
    ...r,
    s3: { ...r.s3, object: { ...r.s3.object, key: encodeEventKey(r.s3.object.key) } },
  }));
  return records.length > 0 ? { Records: records } : undefined;
}

export interface InvokerOptions {
  readonly handler: S3Handler;
  /** Lambda retries a failed async invocation twice; locally with short delays. */
  readonly retries?: number;
  readonly retryDelayMs?: number;
  readonly concurrency?: number;
  readonly onError?: (error: unknown, event: S3Event, attempt: number) => void;
}

/**
 * The laptop twin of S3 → Lambda asynchronous invocation: events queue up in memory and run with
 * bounded concurrency (2 cores); a failed invocation is retried twice, then dropped, as Lambda does
 * without an on-failure destination. Nothing here survives a restart: the start-up scan re-queues
 * objects whose sidecar is missing.
 */
export class AsyncInvoker {
  private readonly pending: S3Event[] = [];
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;
  invocations = 0;

  constructor(private readonly options: InvokerOptions) {}

  invoke(event: S3Event): void {
    if (this.stopped) return;
    this.pending.push(event);
    this.pump();
  }

  get depth(): number {
    return this.pending.length + this.running;
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Drop what is queued (the start-up scan finds it again) and wait for what runs, at most
   * `graceMs`: an invocation still running then is left to the next start's scan as well.
   */
  async stop(graceMs?: number): Promise<void> {
    this.stopped = true;
    this.pending.length = 0;
    if (graceMs === undefined) return this.idle();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }

  private pump(): void {
    const concurrency = this.options.concurrency ?? 1;
    while (this.running < concurrency && this.pending.length > 0) {
      const event = this.pending.shift() as S3Event;
      this.running += 1;
      void this.run(event).finally(() => {
        this.running -= 1;
        this.pump();
        if (this.depth === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
    }
  }

  private async run(event: S3Event): Promise<void> {
    const retries = this.options.retries ?? 2;
    for (let attempt = 0; attempt <= retries; attempt += 1) {
      this.invocations += 1;
      try {
        await this.options.handler(event);
        return;
      } catch (error) {
        this.options.onError?.(error, event, attempt);
        if (attempt === retries || this.stopped) return;
        await new Promise((resolve) =>
          setTimeout(resolve, (this.options.retryDelayMs ?? 1000) * (attempt + 1)),
        );
      }
    }
  }
}
