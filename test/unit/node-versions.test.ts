import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/** semver comes with npm's own tree (vitest's coverage uses it); only `subset` is needed. */
const semver = createRequire(import.meta.url)('semver') as {
  subset(sub: string, dom: string): boolean;
};

interface LockedPackage {
  readonly version?: string;
  readonly engines?: { readonly node?: string } | readonly string[];
  /** Platform binaries (sharp, rolldown…) are installed only where they run. */
  readonly os?: readonly string[];
  readonly cpu?: readonly string[];
}

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
  packages: Record<string, LockedPackage>;
};

describe('supported Node versions', () => {
  it('are Node 22.13+, 24-26 and (while it lasts) 20.19+', () => {
    expect(pkg.engines.node).toBe('^20.19.0 || ^22.13.0 || ^24.0.0 || ^25.0.0 || ^26.0.0');
  });

  it('suit every locked package, so npm install prints no EBADENGINE on any of them', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([path, locked]) => path !== '' && !locked.os && !locked.cpu)
      .flatMap(([path, locked]) => {
        const range = Array.isArray(locked.engines) ? undefined : (locked.engines as { node?: string })?.node;
        return range && !semver.subset(pkg.engines.node, range)
          ? [`${path}@${locked.version}: node ${range}`]
          : [];
      });

    expect(refusing).toEqual([]);
  });
});
