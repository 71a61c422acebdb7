import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { ImageRejectedError, SourceUnreadableError, tooLargeSentence } from '#engine/index.ts';

/**
 * Reading a file someone named (the CLI) or dropped (the inbox), so that no file can hang or flood
 * the process: a FIFO, socket or device is refused without a read (open with O_NONBLOCK returns at
 * once for a FIFO, and the opened file's own type is checked, so a swap after a stat changes
 * nothing); the size is checked before reading; and no more than the limit + 1 bytes are ever read
 * (a file that grows while being read, `/proc` files reporting size 0).
 */

/** What a person calls a file type that is not a regular file. */
function kindOf(info: {
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isDirectory(): boolean;
}): string {
  if (info.isFIFO()) return 'a named pipe (FIFO)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  if (info.isDirectory()) return 'a folder';
  return 'not a regular file';
}

export async function readInputFile(path: string, maxBytes: number): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    throw new SourceUnreadableError(`Cannot read ${path}: ${unreadableReason(path, error)}.`, {
      cause: error,
    });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new SourceUnreadableError(
        `Cannot read ${path}: it is ${kindOf(info)}, not an image file; nothing was read from it.`,
      );
    }
    if (info.size > maxBytes) throw tooLarge(path, info.size, maxBytes);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(1024 * 1024, maxBytes + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      // It grew while being read: stop at the limit instead of following it.
      if (total > maxBytes) throw tooLarge(path, total, maxBytes);
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

function tooLarge(path: string, size: number, maxBytes: number): ImageRejectedError {
  return new ImageRejectedError('INPUT_TOO_LARGE', tooLargeSentence(size, maxBytes), {
    detail: `Expected at most ${maxBytes} bytes in ${path} but it holds ${size} or more; it was not read (MAX_INPUT_BYTES)`,
  });
}

/** Why a path could not be opened, in words (a name that is not UTF-8 cannot be named at all). */
export function unreadableReason(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' && path.includes('\uFFFD')) {
    return 'its name is not valid UTF-8, so it cannot be opened by the name given; rename the file';
  }
  if (code === 'ENOENT') return 'there is no such file or folder; check the path';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied; check that you may read it';
  if (code === 'ENAMETOOLONG') return 'the name is longer than the file system allows';
  if (code === 'ELOOP') return 'it is a loop of symbolic links';
  // open() answers ENXIO for a socket (and a device with nothing behind it).
  if (code === 'ENXIO')
    return 'it is a socket or an absent device, not an image file; nothing was read from it';
  return `it cannot be read (${code ?? String(error)})`;
}
