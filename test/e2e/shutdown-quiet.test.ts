import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killLeftovers, PROBE_WARNING, signalAndWait, startNpm } from './shutdown-support.ts';

/**
 * Each process `npm start` runs (the stack, and its worker process) used to print the AWS SDK's
 * ten-line NodeVersionSupportWarning on Node 20. Node 20.19+ is supported here with the SDK in the
 * lockfile, so the entry points switch off exactly that warning; other warnings must still show.
 */
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shutdown-quiet-'));
});

afterAll(async () => {
  killLeftovers();
  await rm(dir, { recursive: true, force: true });
});

describe('npm start output', () => {
  it('prints no AWS SDK Node-version warning, while other warnings still show', async () => {
    const run = await startNpm(join(dir, 'data'), ['--worker-process']);
    await signalAndWait(run, 'SIGTERM');

    expect(run.stderr()).toContain(PROBE_WARNING);
    expect(run.stderr()).not.toMatch(/NodeVersionSupportWarning|will require node >=22/);
  });
});
