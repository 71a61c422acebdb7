import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildResult, build } from 'esbuild';

/**
 * `npm run bundle`: one ESM file per Lambda handler in dist/functions/<name>.mjs (plus a source
 * map), which the container image runs as `dist/functions/<name>.handler`. Native and large
 * packages stay external: the image installs them as production node_modules, in a layer that only
 * changes with package-lock.json.
 */
export const EXTERNALS = [
  'sharp',
  'onnxruntime-node',
  '@huggingface/transformers',
  'onnxruntime-web',
] as const;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The Lambda functions the stack deploys, one bundle each. */
export const HANDLERS = ['describe-fast', 'describe-detailed', 'search-api', 'upload-api'] as const;

export async function bundleHandlers(
  options: { outDir?: string; handlers?: readonly string[] } = {},
): Promise<{ outDir: string; files: string[]; result: BuildResult }> {
  const outDir = resolve(options.outDir ?? join(ROOT, 'dist/functions'));
  const names = (options.handlers ?? HANDLERS).filter((name) =>
    existsSync(join(ROOT, 'functions/aws', `${name}.ts`)),
  );
  await rm(outDir, { recursive: true, force: true });
  const result = await build({
    entryPoints: Object.fromEntries(names.map((name) => [name, join(ROOT, 'functions/aws', `${name}.ts`)])),
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    sourcemap: true,
    logLevel: 'warning',
    external: [...EXTERNALS],
    // CommonJS dependencies inside an ESM bundle still call require() for Node built-ins.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  return { outDir, files: names.map((name) => join(outDir, `${name}.mjs`)), result };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { files } = await bundleHandlers();
  for (const file of files) process.stderr.write(`bundled ${file}\n`);
}
