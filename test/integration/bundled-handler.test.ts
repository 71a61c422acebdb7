import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { s3NotificationFor } from '#test/fixtures/events.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { bundleHandlers, EXTERNALS } from '../../functions/aws/bundle.ts';
import { BACKENDS, type IntegrationStack } from './support/backends.ts';
import { receive } from './support/lambda-sqs.ts';

/**
 * The container image's code path without Docker: `npm run bundle`'s output (the file the image's
 * CMD `dist/functions/describe-fast.handler` runs), imported from disk and invoked with an exact S3
 * event built from the stored object, on each integration backend and the tiny known-answer models.
 */
const execFileAsync = promisify(execFile);
let bundleDir: string;

beforeAll(async () => {
  bundleDir = join(process.cwd(), 'test-output', `bundle-${process.pid}`);
  await bundleHandlers({ outDir: bundleDir, handlers: ['describe-fast'] });
});

describe.each(BACKENDS)('bundled describe-fast handler on $name', (backend) => {
  let stack: IntegrationStack;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    if (backend.unavailable) return;
    stack = await backend.start('describer-bundle');
    // OCR in the fast stage (OCR_STAGE=fast, a deploy option), so the bundle must find the packaged OCR models too.
    for (const [name, value] of Object.entries({ ...stack.env, OCR_STAGE: 'fast' })) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });

  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await stack?.stop();
  });

  /** `node` imports the bundle (init: config + model load) and calls its handler with the event. */
  async function invokeBundled(file: string, event: unknown): Promise<void> {
    const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(file).href)});
await handler(JSON.parse(process.env.TEST_EVENT));`;
    await execFileAsync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, TEST_EVENT: JSON.stringify(event), NODE_NO_WARNINGS: '1' },
      timeout: 60_000,
    });
  }

  describe.skipIf(backend.unavailable)('dist/functions/describe-fast.mjs', () => {
    it('keeps the native packages external, for the image node_modules layer', async () => {
      const { readFile } = await import('node:fs/promises');
      const code = await readFile(join(bundleDir, 'describe-fast.mjs'), 'utf8');
      for (const name of EXTERNALS.filter((external) => external !== 'onnxruntime-web')) {
        expect(code).toContain(`from "${name}"`);
      }
    });

    it('describes an S3 event into a sidecar with the caption "a red square" and queues the job', async () => {
      // Prepare: the stored object and the exact event S3 would send for it
      const key = 'images/bundle/red photo.png';
      await stack.s3.send(
        new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: await imageFixture('solidRed') }),
      );
      const head = await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key }));
      const event = s3NotificationFor({
        bucket: stack.bucket,
        key,
        etag: head.ETag ?? '',
        size: head.ContentLength,
      });

      // Act: plain Node, as the Lambda runtime loads it (no test transform in between)
      await invokeBundled(join(bundleDir, 'describe-fast.mjs'), event);

      // Assess
      const out = await stack.s3.send(
        new GetObjectCommand({ Bucket: stack.bucket, Key: 'descriptions/bundle/red photo.png.json' }),
      );
      const sidecar = JSON.parse((await out.Body?.transformToString()) ?? '') as DescriptionRecord;
      expect(sidecar.caption).toBe('a red square');
      expect(sidecar.text).toEqual({ full: '', lines: [] });
      expect(sidecar.models.ocr?.id).toBeDefined();
      expect(sidecar.status.fast.state).toBe('done');
      expect(sidecar.status.detailed.state).toBe('pending');
      const jobs = await receive(stack.sqs, stack.detailed.url);
      expect(jobs.map((message) => JSON.parse(message.Body ?? '').key)).toEqual([key]);
    });
  });
});
