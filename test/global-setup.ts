import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { buildFixtureModelSet } from '../models/fixtures/build.ts';
import { HOSTILE_COUNTS_DIR, hostileSummary } from './support/hostile-counts.ts';

const OUTPUT = resolve(fileURLToPath(new URL('..', import.meta.url)), 'test-output');
/** Where the known-answer model set lives for the test run (relative to the repo root). */
export const FIXTURE_MODELS_DIR = join(OUTPUT, 'models');

async function buildEntryPoints(): Promise<void> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const { status, stderr } = spawnSync(process.execPath, ['functions/build.mjs'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (status !== 0) throw new Error(`npm run build failed: ${stderr}`);
}

async function digest(dir: string): Promise<string | undefined> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => undefined);
  if (!entries) return undefined;
  const hash = createHash('sha256');
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  for (const file of files) hash.update(file.slice(dir.length)).update(await readFile(file));
  return hash.digest('hex');
}

/**
 * Builds the set beside the live one and swaps it in only when it differs, so that several
 * `vitest run`s at once (several checkouts on one machine) never see a half-written model.
 */
async function buildOnce(): Promise<void> {
  await mkdir(OUTPUT, { recursive: true });
  const fresh = join(OUTPUT, `.models-${process.pid}`);
  await buildFixtureModelSet(fresh);
  const [current, built] = await Promise.all([digest(FIXTURE_MODELS_DIR), digest(fresh)]);
  if (current === built) {
    await rm(fresh, { recursive: true, force: true });
    return;
  }
  const stale = join(OUTPUT, `.models-old-${process.pid}`);
  await rename(FIXTURE_MODELS_DIR, stale).catch(() => undefined);
  await rename(fresh, FIXTURE_MODELS_DIR);
  await rm(stale, { recursive: true, force: true });
}

/**
 * Builds the tiny known-answer model set once per `vitest run` and points every test at it:
 * `process.env.MODELS_DIR` (inherited by the forked workers) and `inject('fixtureModelsDir')`.
 * Builds the entry points too (`npm run build`): the tests that run the bin run what users run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await Promise.all([
    buildOnce(),
    buildEntryPoints(),
    rm(HOSTILE_COUNTS_DIR, { recursive: true, force: true }),
  ]);
  process.env.MODELS_DIR = FIXTURE_MODELS_DIR;
  project.provide('fixtureModelsDir', FIXTURE_MODELS_DIR);
  // The hostile suites' counts, added up, at the end of the run's output.
  return async () => {
    const summary = await hostileSummary(100);
    if (summary) console.log(`\n${summary}`);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    fixtureModelsDir: string;
  }
}
