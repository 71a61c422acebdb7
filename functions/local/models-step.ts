import { readEngineSettings } from '#engine/index.ts';
import type { FetchProgressEvent } from '#engine/models/fetch-models.ts';
import { ModelRegistry } from '#engine/models/registry.ts';
import type { LocalOptions } from './options.ts';

export interface ModelsState {
  readonly dir: string;
  /** The files of every model the caption, objects and detailed tasks use are present. */
  readonly ready: boolean;
}

async function missingModes(modelsDir: string): Promise<string[] | undefined> {
  try {
    const registry = await ModelRegistry.open({ modelsDir, threads: 0 });
    return registry.missingModels().map((m) => `${m.tasks.join(', ')} (${m.id})`);
  } catch {
    // No manifest at all.
    return undefined;
  }
}

/**
 * First run: download whatever the manifest names and the model directory lacks, with the same code
 * and progress bar as `npm run models:fetch`. When that fails (offline), say how to fix it and go on:
 * the stack still describes colours, facts and text, and captions follow once the models appear.
 */
export async function ensureModels(
  options: LocalOptions,
  hooks: { onProgress?: (event: FetchProgressEvent) => void; onDownloadEnd?: () => void } = {},
): Promise<ModelsState> {
  const modelsDir = options.modelsDir ?? readEngineSettings().modelsDir;
  const missing = await missingModes(modelsDir);
  if (missing && missing.length === 0) return { dir: modelsDir, ready: true };
  if (options.fetchModels) {
    process.stdout.write(`Models missing in ${modelsDir}: ${missing?.join(', ') ?? 'all'}. Downloading…\n`);
    try {
      const { fetchMissingModels } = await import('#engine/models/fetch-models.ts');
      await fetchMissingModels({ modelsDir, progress: options.interactive, onProgress: hooks.onProgress });
      const after = await missingModes(modelsDir);
      if (after && after.length === 0) return { dir: modelsDir, ready: true };
    } catch (error) {
      process.stderr.write(`\nCould not download the models: ${(error as Error).message}\n`);
    } finally {
      // The page stops showing progress; the files on disk decide what it says from here.
      hooks.onDownloadEnd?.();
    }
  }
  process.stderr.write(
    [
      '',
      'The stack starts WITHOUT caption models: colours, image facts and text (OCR) work now;',
      'captions and detailed descriptions are marked "waiting-for-models" and are filled in',
      'automatically as soon as the models appear. To fix it, either:',
      '  - connect to the internet and run `npm run models:fetch` (the running stack picks them up), or',
      '  - copy a model set into the directory above, or',
      '  - point at another model set: `npm start -- --models <dir>` (or MODELS_DIR=<dir>);',
      '    try the tiny test models: `npm run fixtures -- --out /tmp/tiny-models`.',
      '',
    ].join('\n'),
  );
  return { dir: modelsDir, ready: false };
}
