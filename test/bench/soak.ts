/**
 * Soak bench (`npm run bench:soak`): N uploads through the local stack with the tiny known-answer
 * models, with duplicate S3 events and duplicate SQS jobs injected and the detailed worker crashed
 * once mid-batch. Reports throughput and checks that every object ends with exactly one sidecar,
 * fully described, none lost, and no duplicated work visible in the records (each sidecar written
 * exactly twice: the fast record, then the detailed merge). Loopback only; bounded in time.
 *
 *   npm run bench:soak -- [--uploads 500] [--timeout 600]
 */
import '../../functions/node-support.ts';
import { mkdir, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import sharp from 'sharp';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { sidecarKeyFor } from '#engine/pipeline/key-layout.ts';
import { parseStoredRecord } from '#engine/pipeline/staleness.ts';
import type { LocalOptions } from '../../functions/local/options.ts';
import { objectCreatedEvent } from '../../functions/local/requeue.ts';
import { startLocalStack } from '../../functions/local/stack.ts';
import { buildFixtureModelSet } from '../../models/fixtures/build.ts';
import { testStackOptions } from '../support/local-stack-options.ts';

const { values } = parseArgs({
  options: {
    uploads: { type: 'string', default: '500' },
    timeout: { type: 'string', default: '600' },
    concurrency: { type: 'string', default: '8' },
  },
});
const UPLOADS = Number(values.uploads);
const TIMEOUT_MS = Number(values.timeout) * 1000;
const CONCURRENCY = Number(values.concurrency);
const DUPLICATE_EVENTS = Math.ceil(UPLOADS / 5);
const DUPLICATE_JOBS = Math.ceil(UPLOADS / 10);

const COLOURS = [
  { name: 'red', rgb: [255, 0, 0] },
  { name: 'green', rgb: [0, 255, 0] },
  { name: 'blue', rgb: [0, 0, 255] },
  { name: 'black', rgb: [0, 0, 0] },
  { name: 'white', rgb: [255, 255, 255] },
  { name: 'gray', rgb: [128, 128, 128] },
] as const;

/** A distinct image per upload (one pixel encodes the index) whose caption is known. */
async function imageFor(index: number): Promise<{ bytes: Buffer; colour: string }> {
  const colour = COLOURS[index % COLOURS.length] as (typeof COLOURS)[number];
  const [r, g, b] = colour.rgb;
  const marker = Buffer.from([index & 255, (index >> 8) & 255, 7]);
  const bytes = await sharp({ create: { width: 48, height: 48, channels: 3, background: { r, g, b } } })
    .composite([{ input: marker, raw: { width: 1, height: 1, channels: 3 }, left: 0, top: 0 }])
    .png()
    .toBuffer();
  return { bytes, colour: colour.name };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pool<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function main(): Promise<void> {
  const modelsDir = process.env.MODELS_DIR ?? resolve('test-output/models');
  if (!process.env.MODELS_DIR) await buildFixtureModelSet(modelsDir);
  const dataDir = resolve(`test-output/soak-${process.pid}`);
  await mkdir(dataDir, { recursive: true });
  const options: LocalOptions = testStackOptions(dataDir, {
    modelsDir,
    // Short, so that the crashed batch comes back within the bench.
    visibilityTimeoutSeconds: 5,
    // A real process, so that the crash is a SIGKILL mid-batch.
    workerProcess: true,
  });

  const sidecarWrites = new Map<string, number>();
  const errors: string[] = [];
  const stack = await startLocalStack(options, {
    onEvent: (event) => {
      if (event.type === 'sidecar') sidecarWrites.set(event.key, (sidecarWrites.get(event.key) ?? 0) + 1);
      if (event.type === 'error') errors.push(`${event.where}: ${String(event.error)}`);
    },
  });
  const store = new S3ObjectStore({ bucket: stack.bucket, client: stack.s3 });
  const layout = { inputPrefix: options.inputPrefix, sidecarPrefix: options.sidecarPrefix };
  const expected = new Map<string, string>();
  const started = performance.now();
  let crashAt: number | undefined;
  let crashedInFlight = 0;

  try {
    // 1. Uploads through the upload API and presigned POST, as the web page does.
    const indices = Array.from({ length: UPLOADS }, (_, i) => i);
    await pool(indices, CONCURRENCY, async (index) => {
      const { bytes, colour } = await imageFor(index);
      const ticket = await fetch(`${stack.webUrl}/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ filename: `soak-${index}.png`, contentType: 'image/png', size: bytes.length }),
      });
      if (ticket.status !== 201) throw new Error(`POST /uploads → ${ticket.status} ${await ticket.text()}`);
      const { id, url, fields } = (await ticket.json()) as {
        id: string;
        url: string;
        fields: Record<string, string>;
      };
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), `soak-${index}.png`);
      const stored = await fetch(url, { method: 'POST', body: form });
      if (!stored.ok) throw new Error(`presigned POST → ${stored.status}`);
      expected.set(`${options.inputPrefix}uploads/${id}`, `a ${colour} square`);

      // 2. Crash the detailed worker once, mid-batch, about a fifth of the way in.
      if (crashAt === undefined && index >= UPLOADS / 5 && stack.worker.busy > 0) {
        crashedInFlight = stack.worker.busy;
        crashAt = performance.now() - started;
        await stack.restartWorker({ crash: true });
      }
    });
    const uploadedMs = performance.now() - started;

    // 3. Duplicates: S3 delivers at least once; so may our own sends.
    const keys = [...expected.keys()];
    for (let i = 0; i < DUPLICATE_EVENTS; i += 1) {
      const key = keys[(i * 7) % keys.length] as string;
      const head = await store.head(key);
      stack.invoker.invoke(objectCreatedEvent(stack.bucket, { key, etag: head.etag, size: head.size }));
    }
    for (let i = 0; i < DUPLICATE_JOBS; i += 1) {
      const key = keys[(i * 11) % keys.length] as string;
      const head = await store.head(key);
      const job = { bucket: stack.bucket, key, etag: head.etag, sidecarKey: sidecarKeyFor(layout, key) };
      await stack.sqs.send(
        new SendMessageCommand({ QueueUrl: stack.queueUrl, MessageBody: JSON.stringify(job) }),
      );
    }
    if (crashAt === undefined) {
      // Too fast to catch a batch during uploads: crash on the duplicates instead.
      while (stack.worker.busy === 0 && performance.now() - started < TIMEOUT_MS) await sleep(5);
      crashedInFlight = stack.worker.busy;
      crashAt = performance.now() - started;
      await stack.restartWorker({ crash: true });
    }

    // 4. Wait until every object is fully described and both queues are empty.
    const deadline = started + TIMEOUT_MS;
    let done = 0;
    for (;;) {
      done = 0;
      for (const key of keys) {
        // A sidecar being replaced reads as the old or the new one (atomic writes); errors are retried.
        const stored = await store.getJson(sidecarKeyFor(layout, key)).catch(() => undefined);
        const record = parseStoredRecord(stored?.value);
        if (record?.status.detailed.state === 'done' || record?.status.detailed.state === 'failed') done += 1;
      }
      const attributes = await stack.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: stack.queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      const queued =
        Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0) +
        Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
      if ((done === keys.length && queued === 0 && stack.invoker.depth === 0) || performance.now() > deadline)
        break;
      await sleep(500);
    }
    const totalMs = performance.now() - started;

    // 5. Verify what a user would see in the bucket.
    const sidecars: string[] = [];
    for await (const o of store.list(options.sidecarPrefix)) sidecars.push(o.key);
    let wrongCaption = 0;
    let notDone = 0;
    let staleEtag = 0;
    for (const key of keys) {
      const head = await store.head(key);
      const record = parseStoredRecord((await store.getJson(sidecarKeyFor(layout, key)))?.value);
      if (record?.status.fast.state !== 'done' || record.status.detailed.state !== 'done') notDone += 1;
      if (record?.caption !== expected.get(key)) wrongCaption += 1;
      if (record?.source.etag !== head.etag) staleEtag += 1;
    }
    const expectedSidecars = new Set(keys.map((k) => sidecarKeyFor(layout, k)));
    const lost = keys.filter((k) => !sidecars.includes(sidecarKeyFor(layout, k))).length;
    const strays = sidecars.filter((k) => !expectedSidecars.has(k)).length;
    const writes = [...expectedSidecars].map((k) => sidecarWrites.get(k) ?? 0);
    const rewritten = writes.filter((n) => n > 2).length;
    const dlq = await stack.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: stack.dlqUrl,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    const dlqDepth = Number(dlq.Attributes?.ApproximateNumberOfMessages ?? 0);

    const lines = [
      `soak: ${UPLOADS} uploads through the local stack (upload API + presigned POST, ${CONCURRENCY} at a time), tiny models`,
      `  injected: ${DUPLICATE_EVENTS} duplicate S3 events, ${DUPLICATE_JOBS} duplicate detailed jobs, worker process SIGKILLed once at ${(
        (crashAt ?? 0) / 1000
      ).toFixed(
        1,
      )} s with ${crashedInFlight} message(s) in flight (visibility timeout ${options.visibilityTimeoutSeconds} s)`,
      `  uploads finished in ${(uploadedMs / 1000).toFixed(1)} s; all described in ${(totalMs / 1000).toFixed(1)} s`,
      `  throughput: ${((keys.length / totalMs) * 1000).toFixed(1)} images/s end to end (fast + detailed + OCR)`,
      `  fast invocations ${stack.invoker.invocations}; restarted worker: ${stack.worker.batches} batches, ${stack.worker.redelivered} redelivered message(s)`,
      `  sidecars: ${sidecars.length} for ${keys.length} objects; lost ${lost}; strays ${strays}; not done ${notDone}; wrong caption ${wrongCaption}; stale etag ${staleEtag}`,
      `  sidecar writes per object: min ${Math.min(...writes)}, max ${Math.max(...writes)}; objects written more than twice (duplicated work) ${rewritten}`,
      `  DLQ depth ${dlqDepth}; handler errors ${errors.length}${errors.length ? `: ${errors.slice(0, 3).join(' | ')}` : ''}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const ok =
      sidecars.length === keys.length &&
      lost === 0 &&
      strays === 0 &&
      notDone === 0 &&
      wrongCaption === 0 &&
      rewritten === 0 &&
      dlqDepth === 0;
    process.stdout.write(ok ? 'soak: PASS\n' : 'soak: FAIL\n');
    process.exitCode = ok ? 0 : 1;
  } finally {
    await stack.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`soak failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
