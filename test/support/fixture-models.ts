import { inject } from 'vitest';

/**
 * The known-answer model set built by test/global-setup.ts (manifest.json + tiny models whose
 * caption for a mostly red image is exactly "a red square", likewise green, blue, black, white, gray).
 */
export function fixtureModelsDir(): string {
  return inject('fixtureModelsDir');
}
