import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_MODELS_DIR, DescribeError, ENV } from '../layers/engine/index.ts';
import { fetchMissingModels, type ModelSelection } from '../layers/engine/models/fetch-models.ts';

const USAGE = `Usage: npm run models:fetch [-- --models <dir>] [--all | --model <name> ...]

Downloads the models of <dir>/manifest.json (default: $${ENV.MODELS_DIR}, else the repo's models/)
at their pinned revisions, only the files of the chosen dtypes. Files already there are kept.
By default only the models marked "fetch": "default" (the default lineup is one model);
--all fetches every model of the manifest, --model <name> (repeatable) the named ones.
Set HF_ENDPOINT to use a mirror of the Hugging Face hub.`;

const formatBytes = (bytes: number) =>
  bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;

/** `npm run models:fetch`: exit 0 when every model is complete, 1 when one could not be had, 2 on bad usage. */
export async function main(argv: readonly string[], env = process.env): Promise<number> {
  let modelsDir: string;
  let selection: ModelSelection = 'default';
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        models: { type: 'string', short: 'm' },
        all: { type: 'boolean' },
        model: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (values.all && values.model) throw new Error('Expected --all or --model, not both');
    if (values.all) selection = 'all';
    if (values.model) selection = values.model;
    modelsDir = resolve(values.models ?? (env[ENV.MODELS_DIR] || DEFAULT_MODELS_DIR));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }

  const started = performance.now();
  try {
    const fetched = await fetchMissingModels(modelsDir, {
      endpoint: env.HF_ENDPOINT || undefined,
      progress: Boolean(process.stderr.isTTY),
      models: selection,
    });
    for (const model of fetched) {
      const what =
        model.downloaded.length === 0
          ? 'already complete'
          : `downloaded ${model.downloaded.length} file(s), ${formatBytes(model.downloadedBytes)}`;
      console.log(`${model.id} @ ${model.revision}: ${what} → ${model.dir}`);
    }
    console.log(`models ready in ${modelsDir} (${Math.round(performance.now() - started)} ms)`);
    return 0;
  } catch (error) {
    const code = error instanceof DescribeError ? ` [${error.code}]` : '';
    console.error(`\nmodels:fetch failed${code}:\n${(error as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
