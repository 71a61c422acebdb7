import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { headingAnchors, links, markdownFiles, REPO_ROOT, readDoc } from './markdown.ts';

/** A broken link in the README is the first thing a newcomer hits: every relative one must resolve. */
describe('links in README.md and docs/', () => {
  const files = markdownFiles();

  it('keeps the README a page a newcomer reads in five minutes (at most 250 lines)', () => {
    const lines = readDoc('README.md').trimEnd().split('\n').length;

    expect(lines).toBeLessThanOrEqual(250);
  });

  it.each(files)('%s: every relative link points at a file, and every #anchor at a heading', (file) => {
    const broken: string[] = [];
    for (const { line, target } of links(readDoc(file))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [path = '', anchor] = target.split('#', 2);
      const resolved = path === '' ? join(REPO_ROOT, file) : join(REPO_ROOT, dirname(file), decodeURI(path));
      const shown = `${file}:${line} → ${target}`;
      if (!existsSync(resolved)) {
        broken.push(`${shown} (no ${relative(REPO_ROOT, resolved)})`);
        continue;
      }
      if (anchor && resolved.endsWith('.md') && statSync(resolved).isFile()) {
        const anchors = headingAnchors(readDoc(relative(REPO_ROOT, resolved)));
        if (!anchors.has(anchor)) broken.push(`${shown} (no heading #${anchor})`);
      }
    }

    expect(broken).toEqual([]);
  });

  it('links every page in docs/ from the README', () => {
    const linked = new Set(links(readDoc('README.md')).map((l) => l.target.split('#')[0]));
    const pages = files.filter((f) => f.startsWith('docs/'));

    expect(pages.filter((page) => !linked.has(page))).toEqual([]);
  });
});
