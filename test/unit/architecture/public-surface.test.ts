import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * Entry points (functions/, infra/, bin/, the models:fetch command) reach the shared layers only through each package's
 * index.ts, or through a module that index names in IMPORTED_ON_THEIR_OWN; and an index loads no
 * native or model code, so importing one stays cheap.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const LAYERS = join(ROOT, 'layers');
const ENTRY_POINTS = ['functions', 'infra', 'bin', 'models/fetch.ts'];
/** What runs in AWS (the Lambda handlers and the stack): it may not reach the local stand-ins. */
const DEPLOYED = ['functions/aws/', 'infra/'];
const EMULATORS = join(ROOT, 'layers/emulators');
/** Packages whose loading costs native code or a model runtime: what an index must not pull in. */
const NATIVE = [
  'sharp',
  'onnxruntime-node',
  'onnxruntime-web',
  '@huggingface/transformers',
  'better-sqlite3',
];

const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  imports: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** `#engine/x.ts` → its absolute path, from package.json `imports`; relative paths from the importer. */
function resolveSpecifier(importer: string, specifier: string): string | undefined {
  if (specifier.startsWith('.')) return resolve(dirname(importer), specifier);
  for (const [pattern, target] of Object.entries(packageJson.imports)) {
    const prefix = pattern.slice(0, -1);
    if (pattern.endsWith('*') && specifier.startsWith(prefix)) {
      return join(ROOT, target.slice(0, -1), specifier.slice(prefix.length));
    }
  }
  return undefined;
}

/** Static imports, re-exports and dynamic imports of a source file. */
function specifiersOf(source: string): string[] {
  const found = [
    ...source.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+['"]([^'"]+)['"]/gm),
    ...source.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
    ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ];
  return found.map((match) => match[1] as string);
}

/** What a package's index lets entry points import by their own path. */
async function importedOnTheirOwn(packageDir: string): Promise<readonly string[]> {
  const index = (await import(join(packageDir, 'index.ts'))) as { IMPORTED_ON_THEIR_OWN?: readonly string[] };
  return index.IMPORTED_ON_THEIR_OWN ?? [];
}

/** Every import of `file` (an entry point) that reaches past a package's public surface. */
async function violationsIn(file: string, source: string): Promise<string[]> {
  const violations: string[] = [];
  for (const specifier of specifiersOf(source)) {
    const target = resolveSpecifier(file, specifier);
    if (!target?.startsWith(`${LAYERS}/`)) continue;
    const packageDir = dirname(target);
    const module = relative(packageDir, target);
    const where = `${relative(ROOT, file)} imports ${specifier}`;
    if (DEPLOYED.some((folder) => file.startsWith(join(ROOT, folder))) && packageDir === EMULATORS) {
      violations.push(`${where}: layers/emulators stands in for AWS locally and is never deployed`);
    } else if (!existsSync(join(packageDir, 'index.ts'))) {
      violations.push(
        `${where}: ${relative(ROOT, packageDir)} has no index.ts, so it is internal to its layer`,
      );
    } else if (module !== 'index.ts' && !(await importedOnTheirOwn(packageDir)).includes(module)) {
      violations.push(
        `${where}: import it from ${relative(ROOT, packageDir)}/index.ts (export it there), or, if it loads native code, name it in that index's IMPORTED_ON_THEIR_OWN`,
      );
    }
  }
  return violations;
}

function entryPointFiles(): string[] {
  return execFileSync('git', ['ls-files', ...ENTRY_POINTS], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((path) => /\.(?:ts|mjs|js)$/.test(path) && !path.includes('/web/'))
    .map((path) => join(ROOT, path));
}

/** The native or model packages a module loads, itself or through its imports (bundled with esbuild). */
async function nativeLoadedBy(file: string): Promise<string[]> {
  const external = [
    ...Object.keys({ ...packageJson.dependencies, ...packageJson.devDependencies }),
    'aws-lambda',
  ].flatMap((name) => [name, `${name}/*`]);
  const result = await build({
    entryPoints: [file],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    metafile: true,
    logLevel: 'silent',
    external,
  });
  const loaded = Object.values(result.metafile.outputs).flatMap((output) =>
    output.imports.filter((entry) => entry.external).map((entry) => entry.path),
  );
  return [
    ...new Set(loaded.filter((path) => NATIVE.some((name) => path === name || path.startsWith(`${name}/`)))),
  ];
}

function packageIndexes(): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'layers'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((path) => path.endsWith('/index.ts'))
    .map((path) => join(ROOT, path));
}

describe('the public surface of the shared layers', () => {
  it('entry points import packages only through their index or a module it names', async () => {
    const violations: string[] = [];
    for (const file of entryPointFiles()) {
      violations.push(...(await violationsIn(file, readFileSync(file, 'utf8'))));
    }
    expect(violations).toEqual([]);
  });

  it("refuses an entry point that imports a package's internals, an internal package or an unnamed module", async () => {
    const cli = join(ROOT, 'functions/cli/example.ts');
    const source = [
      "import { hitOf } from '#engine/search/document.ts';",
      "import type { TextReader } from '../../layers/engine/ocr/text-reader.ts';",
      "const { createEngine } = await import('#engine/wiring.ts');",
      "export { SqsPoller } from '#emulators/index.ts';",
      "import { openQueryEmbedder } from '#engine/search/query-embedder.ts';",
    ].join('\n');

    const violations = await violationsIn(cli, source);

    expect(violations).toHaveLength(2);
    expect(violations[0]).toContain(
      '#engine/search/document.ts: import it from layers/engine/search/index.ts',
    );
    expect(violations[1]).toContain('layers/engine/ocr has no index.ts');
  });

  it('refuses a deployed module that imports the local stand-ins, which the local stack may', async () => {
    const source = "import { SqsPoller } from '#emulators/index.ts';";

    const deployed = await violationsIn(join(ROOT, 'functions/aws/example.ts'), source);
    const local = await violationsIn(join(ROOT, 'functions/local/example.ts'), source);

    expect(deployed).toEqual([expect.stringContaining('layers/emulators stands in for AWS locally')]);
    expect(local).toEqual([]);
  });

  it('every module an index names as imported on its own exists', async () => {
    for (const index of packageIndexes()) {
      for (const module of await importedOnTheirOwn(dirname(index))) {
        expect(existsSync(join(dirname(index), module)), `${relative(ROOT, index)} names ${module}`).toBe(
          true,
        );
      }
    }
  });

  it('no index loads native or model code, so importing one stays cheap', async () => {
    // The probe sees native code where there is some: the engine's composition root loads all of it.
    expect(await nativeLoadedBy(join(LAYERS, 'engine/wiring.ts'))).toEqual(
      expect.arrayContaining(['sharp', 'onnxruntime-node', '@huggingface/transformers']),
    );
    const indexes = packageIndexes();
    expect(indexes.length).toBeGreaterThanOrEqual(10);
    for (const index of indexes) {
      expect(await nativeLoadedBy(index), `${relative(ROOT, index)} loads`).toEqual([]);
    }
  });
});
