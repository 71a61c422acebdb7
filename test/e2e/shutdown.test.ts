import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { CHILD_KILL_MARGIN_MS, HARD_EXIT_MS, STOP_GRACE_MS } from '../../functions/local/child-worker.ts';
import { DEFAULT_LOCAL_OPTIONS } from '../../functions/local/options.ts';
import { killLeftovers, s3Client, signalAndWait, sleep, startNpm } from './shutdown-support.ts';

/**
 * `npm start` as a user runs it, stopped as a user (or a process manager) stops it: a signal to the
 * pid `npm start` gave. npm hands the signal to the shell that runs the script; the stack must stop
 * every process it started and free every port within a few seconds, and an image in hand must be
 * finished or left for the next start — never lost.
 */
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shutdown-'));
});

afterAll(async () => {
  killLeftovers();
  await rm(dir, { recursive: true, force: true });
});

describe('stopping npm start with a signal to the npm process', () => {
  it('SIGTERM stops every process (the worker process too) and frees every port', async () => {
    const run = await startNpm(join(dir, 'term'), ['--worker-process']);

    const after = await signalAndWait(run, 'SIGTERM');

    expect(after, run.stdout() + run.stderr()).toEqual({ gone: true, free: true });
    expect(run.stdout()).toContain('stopping');
  });

  it('SIGINT does the same', async () => {
    const run = await startNpm(join(dir, 'int'));

    const after = await signalAndWait(run, 'SIGINT');

    expect(after, run.stdout() + run.stderr()).toEqual({ gone: true, free: true });
  });

  it('Ctrl+C in the terminal (SIGINT to the whole group) with --worker-process exits cleanly', async () => {
    // The idle worker process exits at once on its own SIGINT; the stack must not trip over its
    // closed channel (ERR_IPC_CHANNEL_CLOSED used to kill it before fauxqs and s3rver were closed).
    const run = await startNpm(join(dir, 'group-int'), ['--worker-process']);
    const exit = new Promise<number | null>((resolve) => {
      if (run.npm.exitCode !== null) resolve(run.npm.exitCode);
      run.npm.once('exit', (code) => resolve(code));
    });

    const after = await signalAndWait(run, 'SIGINT', { group: true });

    expect(after, run.stdout() + run.stderr()).toEqual({ gone: true, free: true });
    // npm reports either node's 0 or its own 130 for the SIGINT it got too; a crash would be 1.
    expect([0, 130]).toContain(await exit);
    expect(run.stderr()).not.toMatch(/ERR_IPC_CHANNEL_CLOSED|Channel closed|not stopped after|\n\s+at /);
    expect(run.stdout()).toContain('stopping (SIGINT)');
  });

  it('an image in hand when the signal comes is described by the next start, not lost', async () => {
    // Prepare: an upload, and the signal as soon as the stack has taken it
    const dataDir = join(dir, 'in-hand');
    const first = await startNpm(dataDir);
    const key = `${DEFAULT_LOCAL_OPTIONS.inputPrefix}in-hand/red.png`;
    const s3 = s3Client(first.s3Endpoint);
    await s3.send(
      new PutObjectCommand({
        Bucket: DEFAULT_LOCAL_OPTIONS.bucket,
        Key: key,
        Body: await imageFixture('solidRed'),
        ContentType: 'image/png',
      }),
    );
    s3.destroy();
    for (let i = 0; i < 100 && !first.stdout().includes(`↑ ${key}`); i++) await sleep(50);

    // Act
    const stopped = await signalAndWait(first, 'SIGTERM');
    const second = await startNpm(dataDir);

    // Assess: the next start finishes it (whatever stage the first run got to)
    expect(stopped).toEqual({ gone: true, free: true });
    const next = s3Client(second.s3Endpoint);
    const sidecarKey = `${DEFAULT_LOCAL_OPTIONS.sidecarPrefix}in-hand/red.png.json`;
    let record: DescriptionRecord | undefined;
    for (let i = 0; i < 100 && record?.status.detailed.state !== 'done'; i++) {
      try {
        const out = await next.send(
          new GetObjectCommand({ Bucket: DEFAULT_LOCAL_OPTIONS.bucket, Key: sidecarKey }),
        );
        record = JSON.parse((await out.Body?.transformToString()) ?? '') as DescriptionRecord;
      } catch {
        // not written yet
      }
      if (record?.status.detailed.state !== 'done') await sleep(200);
    }
    next.destroy();
    expect(record?.caption).toBe('a red square');
    expect(record?.status.detailed.state).toBe('done');
    expect(await signalAndWait(second, 'SIGTERM')).toEqual({ gone: true, free: true });
  });

  it('docs/local-stack.md states the grace and the hard exit the code uses', async () => {
    const docs = await readFile(new URL('../../docs/local-stack.md', import.meta.url), 'utf8');
    const stopping = docs.slice(docs.indexOf('## Stopping'));

    expect(stopping).toContain(`get ${STOP_GRACE_MS / 1000} s to finish`);
    expect(stopping).toContain('at the same time');
    expect(stopping).toContain(`${CHILD_KILL_MARGIN_MS / 1000} s after the grace is killed`);
    expect(stopping).toContain(`takes about ${(STOP_GRACE_MS + CHILD_KILL_MARGIN_MS) / 1000} s at most`);
    expect(stopping).toContain(`after ${HARD_EXIT_MS / 1000} s, exits`);
  });
});
