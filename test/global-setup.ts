import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { buildFixtureModelSet } from '../models/fixtures/build.ts';

/** Where the known-answer model set is built for the test run (relative to the repo root). */
export const FIXTURE_MODELS_DIR = resolve(
  fileURLToPath(new URL('..', import.meta.url)),
  'test-output/models',
);

/**
 * Builds the tiny known-answer model set once per `vitest run` and points every test at it:
 * `process.env.MODELS_DIR` (inherited by the forked workers) and `inject('fixtureModelsDir')`.
 */
export default async function setup(project: TestProject): Promise<void> {
  await buildFixtureModelSet(FIXTURE_MODELS_DIR);
  process.env.MODELS_DIR = FIXTURE_MODELS_DIR;
  project.provide('fixtureModelsDir', FIXTURE_MODELS_DIR);
}

declare module 'vitest' {
  export interface ProvidedContext {
    fixtureModelsDir: string;
  }
}
