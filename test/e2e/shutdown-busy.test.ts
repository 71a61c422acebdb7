import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CurrentModels } from '#engine/pipeline/staleness.ts';
import type { ObjectStore } from '#engine/ports.ts';
import { STOP_GRACE_MS } from '../../functions/local/child-worker.ts';
import type { LocalHandlers } from '../../functions/local/handlers.ts';
import { type LocalStack, startLocalStack } from '../../functions/local/stack.ts';
import { testStackOptions } from '../support/local-stack-options.ts';

/**
 * A stop while both stages hold an image that never finishes: the detailed worker and the fast
 * invoker get their grace at the same time, so the stop takes one grace, not two (one after the
 * other, with the worker process's kill margin on top, a busy stop ran past HARD_EXIT_MS).
 */
let dir: string;
let stack: LocalStack | undefined;
const calls = { fast: 0, detailed: 0 };
const never = () => new Promise<never>(() => undefined);

/** Handlers that take an image and never return; nothing to scan at start. */
const stuckHandlers: LocalHandlers = {
  describeFast: async () => {
    calls.fast += 1;
    return never();
  },
  describeDetailed: async () => {
    calls.detailed += 1;
    return never();
  },
  uploadApi: (_req, res) => {
    res.statusCode = 404;
    res.end();
  },
  store: {
    list: async function* () {},
    getJson: async () => undefined,
  } as unknown as ObjectStore,
  currentModels: async () => ({}) as CurrentModels,
  modelsReady: async () => true,
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shutdown-busy-'));
});

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function until(what: string, done: () => boolean): Promise<void> {
  const end = Date.now() + 15_000;
  while (!done()) {
    if (Date.now() > end) throw new Error(`Expected ${what} in time`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('stopping a busy stack', () => {
  it('gives the worker and the fast stage their grace at the same time', async () => {
    // Prepare: an upload held by the fast stage, a job held by the detailed worker
    const options = testStackOptions(join(dir, 'data'));
    const running = await startLocalStack(options, { handlers: stuckHandlers });
    stack = running;
    await running.s3.send(
      new PutObjectCommand({
        Bucket: running.bucket,
        Key: `${options.inputPrefix}stuck.png`,
        Body: new Uint8Array([1, 2, 3]),
      }),
    );
    await running.sqs.send(new SendMessageCommand({ QueueUrl: running.queueUrl, MessageBody: '{}' }));
    await until('both stages busy', () => calls.fast > 0 && calls.detailed > 0 && running.worker.busy > 0);

    // Act
    const started = Date.now();
    await running.stop();
    stack = undefined;
    const took = Date.now() - started;

    // Assess: one grace (plus closing the servers), not two
    expect(took).toBeGreaterThanOrEqual(STOP_GRACE_MS - 100);
    expect(took).toBeLessThan(STOP_GRACE_MS + 1_500);
  });
});
