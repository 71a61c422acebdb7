import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureModelsDir } from './fixture-models.ts';

/**
 * The fixture model set with the same manifest (so the same provenance keys) but only the named
 * model folders installed, linked rather than copied. A task whose model is left out cannot run: a
 * stage that tried would say `waiting-for-models` and mark the field stale, which is how tests prove
 * a model was not run (e.g. `only: ['clip-colour']`: no captioner).
 */
export async function partialModelSet(options: {
  only: readonly string[];
}): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const source = fixtureModelsDir();
  const dir = await mkdtemp(join(tmpdir(), 'partial-models-'));
  await mkdir(join(dir, 'fixtures'));
  for (const name of options.only) {
    await symlink(join(source, 'fixtures', name), join(dir, 'fixtures', name), 'dir');
  }
  await writeFile(join(dir, 'manifest.json'), await readFile(join(source, 'manifest.json')));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
