// Runs inside the image build (plain Node, no dependencies):
//   node prune-node-modules.mjs <dir> <package>... [--without <package>...]
// keeps in <dir>/node_modules only the named packages and what they need at runtime, and only this
// platform's onnxruntime binaries. `--without` names declared dependencies that are never loaded
// (onnxruntime-web: transformers' Node build carries its own copy of the web runtime and loads
// onnxruntime-node). The handler bundle contains everything else (the SDK, Powertools,
// zod, the engine), so the local-stack and CLI packages (s3rver, fauxqs with typescript, tsx with
// esbuild, chokidar...) would only be dead weight in a Lambda image.
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Where Node would find `name` when required from the package in `from`: its own node_modules, then
 * each parent's, up to the root node_modules.
 */
function resolvePackage(root, from, name) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || !dir.startsWith(root)) return undefined;
  }
}

/**
 * The package folders `roots` need, following dependencies, optional and peer dependencies that are
 * installed, except the packages named in `without`.
 */
export function runtimeClosure(root, roots, without = []) {
  const keep = new Set();
  const pending = roots.map((name) => {
    const found = resolvePackage(root, root, name);
    if (!found) throw new Error(`${name} is not installed in ${root}/node_modules`);
    return found;
  });
  while (pending.length > 0) {
    const dir = pending.pop();
    if (keep.has(dir)) continue;
    keep.add(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const required = Object.keys(manifest.dependencies ?? {});
    const optional = [
      ...Object.keys(manifest.optionalDependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ];
    for (const name of required) {
      if (without.includes(name)) continue;
      const found = resolvePackage(root, dir, name);
      if (!found) throw new Error(`${relative(root, dir)} needs ${name}, which is not installed`);
      pending.push(found);
    }
    for (const name of optional) {
      if (without.includes(name)) continue;
      const found = resolvePackage(root, dir, name);
      if (found) pending.push(found);
    }
  }
  return keep;
}

/** Top-level folders of node_modules (scoped packages counted one by one). */
function installedPackages(root) {
  const modules = join(root, 'node_modules');
  return readdirSync(modules).flatMap((entry) => {
    if (entry.startsWith('.')) return [];
    if (entry.startsWith('@'))
      return readdirSync(join(modules, entry)).map((name) => join(modules, entry, name));
    return [join(modules, entry)];
  });
}

/** Bytes under `dir` (links counted as themselves). */
function bytesUnder(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? bytesUnder(path) : lstatSync(path).size;
  }
  return total;
}

/** Deletes what `roots` do not need; returns the removed package names. */
export function prune(root, roots, without = [], arch = process.arch) {
  const keep = runtimeClosure(root, roots, without);
  const removed = [];
  for (const dir of installedPackages(root)) {
    if (keep.has(dir)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(relative(join(root, 'node_modules'), dir).split(sep).join('/'));
  }
  for (const scope of readdirSync(join(root, 'node_modules'))) {
    const dir = join(root, 'node_modules', scope);
    if (scope.startsWith('@') && readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
  }
  // Links to deleted packages' binaries, and npm's record of the full tree.
  rmSync(join(root, 'node_modules/.bin'), { recursive: true, force: true });
  rmSync(join(root, 'node_modules/.package-lock.json'), { force: true });
  // onnxruntime-node ships every platform's binaries in one package: keep linux/<this arch>.
  const ortBin = join(root, 'node_modules/onnxruntime-node/bin/napi-v6');
  if (existsSync(ortBin)) {
    for (const os of readdirSync(ortBin)) {
      for (const cpu of readdirSync(join(ortBin, os))) {
        if (os !== 'linux' || cpu !== arch) rmSync(join(ortBin, os, cpu), { recursive: true, force: true });
      }
      if (readdirSync(join(ortBin, os)).length === 0) rmSync(join(ortBin, os), { recursive: true });
    }
    if (!existsSync(join(ortBin, 'linux', arch))) {
      throw new Error(`onnxruntime-node has no linux/${arch} binary: Lambda cannot run this architecture`);
    }
  }
  return removed;
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const [dir, ...names] = process.argv.slice(2);
  const split = names.indexOf('--without');
  const roots = split === -1 ? names : names.slice(0, split);
  const without = split === -1 ? [] : names.slice(split + 1);
  if (!dir || roots.length === 0) {
    console.error(
      'usage: node prune-node-modules.mjs <dir with node_modules> <package>... [--without <package>...]',
    );
    process.exit(2);
  }
  const modules = join(resolve(dir), 'node_modules');
  const before = bytesUnder(modules);
  const removed = prune(resolve(dir), roots, without);
  const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`;
  console.log(
    `kept ${roots.join(', ')} and their dependencies for linux/${process.arch}: removed ${removed.length} packages, node_modules ${mb(before)} → ${mb(bytesUnder(modules))}`,
  );
}
