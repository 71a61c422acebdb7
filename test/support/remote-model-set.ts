import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureModelsDir } from './fixture-models.ts';

export const REMOTE_PROMPT = 'Describe this image in detail.';

/**
 * The fixture model set with its detailed task (and, with `questions`, its questions task) pointed
 * at a remote model: the manifest is rewritten, the local fixture models are linked, not copied.
 */
export async function remoteModelSet(
  remote: Record<string, unknown>,
  options: { questions?: boolean; prompt?: string } = {},
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const source = fixtureModelsDir();
  const dir = await mkdtemp(join(tmpdir(), 'remote-models-'));
  await symlink(join(source, 'fixtures'), join(dir, 'fixtures'), 'dir');
  const manifest = JSON.parse(await readFile(join(source, 'manifest.json'), 'utf8'));
  manifest.models.vlm = remote;
  manifest.tasks.detailed = {
    model: 'vlm',
    stage: 'detailed',
    prompt: options.prompt ?? REMOTE_PROMPT,
    generation: { max_new_tokens: 200 },
  };
  if (options.questions) manifest.tasks.questions = { model: 'vlm', stage: 'detailed', generation: {} };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
