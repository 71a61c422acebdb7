import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { sidecarWhen } from '#test/support/sidecar-when.ts';
import { type LocalStack, startLocalStack } from '../../functions/local/stack.ts';
import { imageFixture } from '../fixtures/images.ts';
import { testStackOptions } from '../support/local-stack-options.ts';

/**
 * The local stack builds its functions with the factories the deployed modules call, from a config
 * object of its own: it writes nothing to `process.env`, so two stacks run side by side in one
 * process, each describing its own uploads through its own servers.
 */
let dir: string;
const stacks: LocalStack[] = [];
let envBefore: Record<string, string | undefined>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'two-stacks-'));
  envBefore = { ...process.env };
  stacks.push(await startLocalStack(testStackOptions(join(dir, 'one'))));
  stacks.push(await startLocalStack(testStackOptions(join(dir, 'two'), { workerProcess: true })));
}, 60_000);

afterAll(async () => {
  await Promise.all(stacks.map((stack) => stack.stop()));
  await rm(dir, { recursive: true, force: true });
});

describe('two local stacks in one process', () => {
  it('leave process.env as it was', () => {
    expect(process.env).toEqual(envBefore);
  });

  it('each describe their own upload, in-process worker and worker process alike', async () => {
    const [one, two] = stacks as [LocalStack, LocalStack];
    const put = async (stack: LocalStack, fixture: 'solidRed' | 'solidBlue') =>
      stack.s3.send(
        new PutObjectCommand({
          Bucket: stack.bucket,
          Key: 'images/square.png',
          Body: await imageFixture(fixture),
          ContentType: 'image/png',
        }),
      );
    await Promise.all([put(one, 'solidRed'), put(two, 'solidBlue')]);

    const done = (stack: LocalStack) =>
      sidecarWhen(
        new S3ObjectStore({ bucket: stack.bucket, client: stack.s3 }),
        'descriptions/square.png.json',
        (record) => record.status.detailed.state === 'done',
      );
    const [red, blue] = await Promise.all([done(one), done(two)]);

    expect(red.caption).toBe('a red square');
    expect(blue.caption).toBe('a blue square');
    expect(red.detailedDescription).toBeTruthy();
    expect(blue.detailedDescription).toBeTruthy();
  }, 60_000);
});
