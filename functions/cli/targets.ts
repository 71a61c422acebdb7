import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, relative } from 'node:path';
import { FILE_SIDECAR_SUFFIX } from '#engine/record/index.ts';
import { unreadableReason } from '../read-input-file.ts';

/** File endings looked at in a folder. The content decides acceptance; HEIC/BMP are listed so the user hears why they fail. */
export const IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.jpe',
  '.png',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
  '.heic',
  '.heif',
  '.svg',
  '.bmp',
]);

export interface DescribeTarget {
  /** The file to describe. */
  readonly path: string;
  /** Path relative to the folder it was found in (the file name for files named directly). */
  readonly relativePath: string;
  /** True when found by walking a folder: such targets always get a sidecar file. */
  readonly fromFolder: boolean;
}

export interface TargetProblem {
  readonly path: string;
  readonly code: 'UNREADABLE_SOURCE' | 'NO_IMAGES';
  readonly message: string;
}

export interface CollectedTargets {
  readonly targets: DescribeTarget[];
  readonly problems: TargetProblem[];
  readonly skippedFiles: number;
  /** Sub-folders not looked in because --recursive was not given. */
  readonly skippedFolders: string[];
}

/**
 * Files, and the special files that look like them (a FIFO named `x.jpg`): those become targets
 * too, so the summary says why each was refused (it is never opened for reading). Symbolic links
 * in folders are not followed.
 */
function isFileLike(entry: Dirent): boolean {
  return (
    entry.isFile() || entry.isFIFO() || entry.isSocket() || entry.isCharacterDevice() || entry.isBlockDevice()
  );
}

interface Walked {
  files: number;
  folders: string[];
}

async function walk(
  root: string,
  dir: string,
  recursive: boolean,
  found: DescribeTarget[],
  skipped: Walked,
): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!recursive) skipped.folders.push(path);
      else if (entry.name !== 'node_modules') await walk(root, path, recursive, found, skipped);
    } else if (isFileLike(entry) && !entry.name.endsWith(FILE_SIDECAR_SUFFIX)) {
      if (IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) {
        found.push({ path, relativePath: relative(root, path), fromFolder: true });
      } else {
        skipped.files += 1;
      }
    }
  }
}

/** Expand the command line's paths into files; missing paths and empty folders become problems, not crashes. */
export async function collectTargets(
  paths: readonly string[],
  recursive: boolean,
): Promise<CollectedTargets> {
  const targets: DescribeTarget[] = [];
  const problems: TargetProblem[] = [];
  const skipped: Walked = { files: 0, folders: [] };
  for (const path of paths) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch (error) {
      problems.push({
        path,
        code: 'UNREADABLE_SOURCE',
        message: `Cannot read ${path}: ${unreadableReason(path, error)}.`,
      });
      continue;
    }
    if (info.isDirectory()) {
      const found: DescribeTarget[] = [];
      try {
        await walk(path, path, recursive, found, skipped);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? String(error);
        problems.push({
          path,
          code: 'UNREADABLE_SOURCE',
          message: `Cannot list the folder ${path} (${code}): check that you may read it.`,
        });
        continue;
      }
      if (found.length === 0) {
        const looked = [...IMAGE_EXTENSIONS].join(' ');
        problems.push({
          path,
          code: 'NO_IMAGES',
          message: `No images in ${path} (looked for ${looked}${recursive ? ', in subfolders too' : '; add --recursive for subfolders'}).`,
        });
      }
      targets.push(...found);
    } else {
      targets.push({ path, relativePath: basename(path), fromFolder: false });
    }
  }
  return { targets, problems, skippedFiles: skipped.files, skippedFolders: skipped.folders };
}
