import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ObjectHead, ObjectNotFoundError } from '#engine/ports.ts';
import { metadataFilename } from '#engine/uploads/upload-request.ts';
import { DescriptionsMirror, safeSegment } from '../../../functions/local/descriptions-mirror.ts';

/** Objects as the upload API leaves them: a server-made key, the original name in metadata. */
function bucketWith(objects: Record<string, string | undefined>) {
  return {
    async head(key: string): Promise<ObjectHead> {
      if (!(key in objects)) throw new ObjectNotFoundError(key);
      const name = objects[key];
      return {
        key,
        etag: 'e',
        size: 1,
        metadata: name === undefined ? {} : { 'original-filename': metadataFilename(name) },
      };
    },
  };
}

const sidecar = (key: string, caption: string) => JSON.stringify({ source: { kind: 's3', key }, caption });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'descriptions-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function filesIn(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

describe('readable copies of the descriptions, by original file name', () => {
  it('names an upload’s copy after the file the person uploaded, not the server-made key', async () => {
    const store = bucketWith({ 'images/uploads/0f8f-1': 'holiday 01.jpg' });
    const mirror = new DescriptionsMirror({ dir, store, inputPrefix: 'images/' });

    const file = await mirror.write(
      'images/uploads/0f8f-1',
      sidecar('images/uploads/0f8f-1', 'a red square'),
    );

    expect(relative(dir, file)).toBe('holiday 01.jpg.description.json');
    expect(JSON.parse(await readFile(file, 'utf8')).caption).toBe('a red square');
    expect(await mirror.nameFor('images/uploads/0f8f-1')).toBe('holiday 01.jpg');
  });

  it('gives a second upload with the same name its own copy, and keeps each copy with its object across restarts', async () => {
    const store = bucketWith({ 'images/uploads/a': 'photo.jpg', 'images/uploads/b': 'photo.jpg' });
    const first = new DescriptionsMirror({ dir, store, inputPrefix: 'images/' });
    await first.write('images/uploads/a', sidecar('images/uploads/a', 'a red square'));
    await first.write('images/uploads/b', sidecar('images/uploads/b', 'a blue square'));
    // An update of the first one stays in its file.
    await first.write('images/uploads/a', sidecar('images/uploads/a', 'the image shows a red square'));

    expect(await filesIn(dir)).toEqual(['photo (2).jpg.description.json', 'photo.jpg.description.json']);

    // Act: a new process (restart) writes the second object first.
    const restarted = new DescriptionsMirror({ dir, store, inputPrefix: 'images/' });
    const b = await restarted.write(
      'images/uploads/b',
      sidecar('images/uploads/b', 'the image shows a blue square'),
    );
    const a = await restarted.write('images/uploads/a', sidecar('images/uploads/a', 'done'));

    expect(relative(dir, b)).toBe('photo (2).jpg.description.json');
    expect(relative(dir, a)).toBe('photo.jpg.description.json');
    expect(await filesIn(dir)).toHaveLength(2);
  });

  it('writes concurrent descriptions of same-named uploads to separate files', async () => {
    const store = bucketWith({ 'images/uploads/a': 'scan.png', 'images/uploads/b': 'scan.png' });
    const mirror = new DescriptionsMirror({ dir, store, inputPrefix: 'images/' });

    const files = await Promise.all([
      mirror.write('images/uploads/a', sidecar('images/uploads/a', 'x')),
      mirror.write('images/uploads/b', sidecar('images/uploads/b', 'y')),
    ]);

    expect(new Set(files).size).toBe(2);
  });

  it('keeps inbox files’ folders, and never writes outside the descriptions folder whatever the name', async () => {
    const store = bucketWith({
      'images/holiday/beach.png': undefined,
      'images/uploads/evil': '../../etc/passwd',
      'images/uploads/dots': '..',
      'images/uploads/ctrl': 'a\u202egpj.exe',
    });
    const mirror = new DescriptionsMirror({ dir, store, inputPrefix: 'images/' });

    for (const key of [
      'images/holiday/beach.png',
      'images/uploads/evil',
      'images/uploads/dots',
      'images/uploads/ctrl',
    ]) {
      const file = await mirror.write(key, sidecar(key, 'x'));
      expect(relative(dir, file).startsWith('..'), file).toBe(false);
    }

    expect(await filesIn(dir)).toEqual([
      '_.._etc_passwd.description.json',
      'a_gpj.exe.description.json',
      'holiday/beach.png.description.json',
      'image.description.json',
    ]);
  });

  it('leaves a file it did not write alone', async () => {
    await writeFile(join(dir, 'notes.txt.description.json'), 'my own notes');
    const store = bucketWith({ 'images/uploads/n': 'notes.txt' });
    const mirror = new DescriptionsMirror({ dir, store, inputPrefix: 'images/' });

    const file = await mirror.write('images/uploads/n', sidecar('images/uploads/n', 'x'));

    expect(relative(dir, file)).toBe('notes (2).txt.description.json');
    expect(await readFile(join(dir, 'notes.txt.description.json'), 'utf8')).toBe('my own notes');
  });

  it('makes any name a safe single path segment', () => {
    expect(safeSegment('..')).toBe('image');
    expect(safeSegment('.hidden')).toBe('hidden');
    expect(safeSegment('a/b\\c:d')).toBe('a_b_c_d');
    expect(Buffer.byteLength(safeSegment('é'.repeat(300)))).toBeLessThanOrEqual(200);
  });
});
