import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHILD_KILL_MARGIN_MS,
  ChildWorker,
  HARD_EXIT_MS,
  STOP_GRACE_MS,
} from '../../../functions/local/child-worker.ts';

/**
 * The parent's side of the worker process, against stand-in children (plain scripts): Ctrl+C
 * reaches the whole process group, so the child may already be gone — or going, its IPC channel
 * closed and its exit not yet seen — when the stack stops it.
 */
let dir: string;
const scripts = {
  /** Ready, then closes its channel and exits a moment later (an idle worker on SIGINT). */
  going: `process.send({ type: 'ready' }); setTimeout(() => { process.disconnect(); setTimeout(() => process.exit(0), 300); }, 50);`,
  /** Ready, and ignores the stop message (a handler that never returns). */
  stuck: `process.send({ type: 'ready' }); setInterval(() => undefined, 1000);`,
  /** Ready, then exits at once. */
  gone: `process.send({ type: 'ready' }); setTimeout(() => process.exit(0), 20);`,
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'child-worker-'));
  for (const [name, body] of Object.entries(scripts)) await writeFile(join(dir, `${name}.mjs`), body);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function spawnStandIn(name: keyof typeof scripts) {
  const child = fork(join(dir, `${name}.mjs`), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited };
}

describe('ChildWorker.stop', () => {
  it('waits for a child whose channel is already closed, without sending (no ERR_IPC_CHANNEL_CLOSED)', async () => {
    // Prepare: the channel closed, the exit still to come
    const { child } = spawnStandIn('going');
    const errors: unknown[] = [];
    const worker = await ChildWorker.attach(child, (error) => errors.push(error));
    await new Promise<void>((resolve) => child.once('disconnect', () => resolve()));
    expect(child.connected).toBe(false);
    expect(child.exitCode).toBeNull();

    // Act
    await worker.stop(STOP_GRACE_MS);

    // Assess: it exited by itself (not killed), and nothing was reported
    expect(child.exitCode).toBe(0);
    expect(child.signalCode).toBeNull();
    expect(errors).toEqual([]);
  });

  it('returns at once for a child that has already exited', async () => {
    const { child, exited } = spawnStandIn('gone');
    const worker = await ChildWorker.attach(child);
    await exited;

    const started = Date.now();
    await worker.stop(STOP_GRACE_MS);

    expect(Date.now() - started).toBeLessThan(100);
  });

  it('kills a child that does not stop, CHILD_KILL_MARGIN_MS after the grace', async () => {
    const { child } = spawnStandIn('stuck');
    const worker = await ChildWorker.attach(child);

    const started = Date.now();
    await worker.stop(100);
    const took = Date.now() - started;

    expect(child.signalCode).toBe('SIGKILL');
    expect(took).toBeGreaterThanOrEqual(100 + CHILD_KILL_MARGIN_MS - 50);
    expect(took).toBeLessThan(100 + CHILD_KILL_MARGIN_MS + 1_000);
  });

  it('leaves the servers at least 2 s of the hard exit after a stuck worker process is killed', () => {
    // The worker and the fast stage stop together, so this is the longest part of a busy stop.
    expect(STOP_GRACE_MS + CHILD_KILL_MARGIN_MS + 2_000).toBeLessThanOrEqual(HARD_EXIT_MS);
  });
});
