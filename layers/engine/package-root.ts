import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of this package's package.json, found upward from this module: the same answer from
 * the TypeScript sources and from a bundle in dist/, where relative URLs would point elsewhere.
 * Outside the package (a Lambda image ships no package.json) it is the working directory.
 */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot();

/** A path inside the package (models/, config/, the web page, the built entry points). */
export const packagePath = (...parts: string[]) => join(PACKAGE_ROOT, ...parts);
