import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { localS3Client } from '#emulators/local-servers.ts';
import { validateRecord } from '#engine/record/record.ts';
import { type ImageFixtureName, imageFixture } from '#test/fixtures/images.ts';
import { captureOutput } from '#test/support/capture-output.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { runCli } from '../../functions/cli/cli.ts';
import { startEmbeddedS3 } from '../../functions/local/servers.ts';
import { hostileTally } from '../support/hostile.ts';

/**
 * The hostile-input suite for the CLI (one file named, and folders) and for writes killed with
 * SIGKILL: each bad file ends with a clear message and exit status 1, never a hang or a crash; the
 * good images beside it are described; a kill -9 mid-write leaves whole files only.
 */
const { kind } = hostileTally('hostile inputs (CLI, kill -9)');
const MAX_BYTES = 2 * 1024 * 1024;
let dir: string;
let env: Record<string, string>;
let red: Buffer;
const sockets: Server[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-cli-'));
  env = { MODELS_DIR: fixtureModelsDir(), MAX_INPUT_BYTES: String(MAX_BYTES) };
  red = await imageFixture('solidRed');
});

afterAll(async () => {
  for (const server of sockets) server.close();
  await rm(dir, { recursive: true, force: true });
});

/** Bytes this process has read through system calls so far (Linux: `rchar` in /proc/self/io). */
function bytesReadByThisProcess(): number {
  const line = readFileSync('/proc/self/io', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('rchar:'));
  return Number(line?.slice('rchar:'.length));
}

async function fixtureFile(name: string, fixture: ImageFixtureName): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, await imageFixture(fixture));
  return path;
}

async function describeCli(...args: string[]) {
  const { output, stdout, stderr } = captureOutput();
  const status = await runCli(['describe', ...args], env, output);
  return { status, stdout: stdout(), stderr: stderr() };
}

describe('one file named on the command line', () => {
  const cases: ReadonlyArray<readonly [string, () => Promise<string>, RegExp]> = [
    [
      'a FIFO',
      async () => {
        const path = join(dir, 'pipe.jpg');
        await promisify(execFile)('mkfifo', [path]);
        return path;
      },
      /named pipe \(FIFO\), not an image file; nothing was read/,
    ],
    ['/dev/zero', async () => '/dev/zero', /it is a device, not an image file/],
    ['/dev/null', async () => '/dev/null', /it is a device, not an image file/],
    [
      'a socket',
      async () => {
        const path = join(dir, 'socket.png');
        const server = createServer();
        sockets.push(server);
        await new Promise<void>((resolve) => server.listen(path, resolve));
        return path;
      },
      /socket/,
    ],
    ['a path that does not exist', async () => join(dir, 'missing.png'), /no such file or folder/],
    ['a name that is not UTF-8', async () => join(dir, 'bad\uFFFDname.png'), /not valid UTF-8/],
    [
      'a 200 MB sparse file (over the 2 MB limit)',
      async () => {
        const path = join(dir, 'huge.png');
        await writeFile(path, red);
        await truncate(path, 200 * 1024 * 1024);
        return path;
      },
      /over the limit of 2 MB/,
    ],
    [
      'an empty file',
      async () => {
        const path = join(dir, 'empty.png');
        await writeFile(path, '');
        return path;
      },
      /empty/,
    ],
    [
      'text named .jpg',
      async () => {
        const path = join(dir, 'notes.jpg');
        await writeFile(path, 'my holiday notes');
        return path;
      },
      /Unsupported image format/,
    ],
    [
      'a JPEG whose scan data is damaged ("bad Huffman code")',
      () => fixtureFile('damaged-scan.jpg', 'corruptScanJpeg'),
      /CORRUPT_IMAGE: The jpeg image is damaged or truncated/,
    ],
    [
      'a valid 1 x 100,000,000 PNG',
      () => fixtureFile('strip.png', 'pngOneColumn100Megapixels'),
      /UNUSUAL_DIMENSIONS: The image is 1 × 100,000,000 pixels, longer than the limit of 100,000 pixels on a side/,
    ],
    [
      'a 10001 x 10000 PNG',
      () => fixtureFile('just-over.png', 'pngJustOver100Megapixels'),
      /TOO_MANY_PIXELS: .*\(100,010,000 pixels\), over the limit of 100,000,000 pixels/,
    ],
    [
      'a loop of symbolic links',
      async () => {
        await symlink(join(dir, 'loop-b.png'), join(dir, 'loop-a.png'));
        await symlink(join(dir, 'loop-a.png'), join(dir, 'loop-b.png'));
        return join(dir, 'loop-a.png');
      },
      /loop of symbolic links/,
    ],
  ];
  for (const [what, make, message] of cases) {
    kind('CLI file', `${what}: exit 1 with a message in words, at once`, async () => {
      const path = await make();
      const run = await describeCli(path);
      expect(run.status).toBe(1);
      expect(run.stdout + run.stderr).toMatch(message);
    });
  }

  kind('CLI file', 'a 200 MB file over the 2 MB limit: refused by its size, never read', async () => {
    const path = join(dir, 'unread.png');
    await writeFile(path, red);
    await truncate(path, 200 * 1024 * 1024);
    const before = bytesReadByThisProcess();
    const run = await describeCli(path);
    expect(run.stdout + run.stderr).toMatch(/over the limit of 2 MB/);
    // All this process read meanwhile (model files included) is a fraction of the file.
    expect(bytesReadByThisProcess() - before).toBeLessThan(20 * 1024 * 1024);
  });
});

describe('a folder with bad files among good ones', () => {
  let folder: string;
  let run: Awaited<ReturnType<typeof describeCli>>;
  const longName = `${'l'.repeat(247)}.png`;
  beforeAll(async () => {
    folder = join(dir, 'folder');
    await mkdir(folder);
    await writeFile(join(folder, 'good.png'), red);
    await writeFile(join(folder, '😀 emoji.png'), red);
    await writeFile(join(folder, longName), red);
    await writeFile(join(folder, 'again.png'), red);
    await writeFile(join(folder, 'again.png.description.json'), '{"cut short": ');
    await promisify(execFile)('mkfifo', [join(folder, 'pipe.png')]);
    await writeFile(join(folder, 'broken.jpg'), (await imageFixture('truncatedJpeg')) as Buffer);
    await symlink('/dev/zero', join(folder, 'zero.png'));
    await writeFile(join(folder, 'damaged-scan.jpg'), await imageFixture('corruptScanJpeg'));
    await writeFile(join(folder, 'strip.png'), await imageFixture('pngOneColumn100Megapixels'));
    await writeFile(join(folder, 'new\nline.png'), red);
    await writeFile(join(folder, 'taken.png'), red);
    await mkdir(join(folder, 'taken.png.description.json'));
    await writeFile(join(folder, 'piped.png'), red);
    await promisify(execFile)('mkfifo', [join(folder, 'piped.png.description.json')]);
    run = await describeCli(folder);
  });

  kind('CLI folder', 'a FIFO among the images: failed in the summary, the rest described', async () => {
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/pipe\.png: UNREADABLE_SOURCE: .*named pipe/);
    expect(run.stderr).toMatch(/6 described, 5 failed/);
  });

  kind('CLI folder', 'a JPEG with damaged scan data: CORRUPT_IMAGE, not a grey picture', async () => {
    expect(run.stderr).toMatch(/damaged-scan\.jpg: CORRUPT_IMAGE: The jpeg image is damaged/);
  });

  kind('CLI folder', 'a valid 1 x 100,000,000 PNG: UNUSUAL_DIMENSIONS naming the limit', async () => {
    expect(run.stderr).toMatch(/strip\.png: UNUSUAL_DIMENSIONS: .*limit of 100,000 pixels on a side/);
  });

  kind('CLI folder', 'a newline in a file name: described', async () => {
    const record = JSON.parse(await readFile(join(folder, 'new\nline.png.description.json'), 'utf8'));
    expect(validateRecord(record).caption).toBe('a red square');
  });

  kind(
    'CLI folder',
    'a folder where the sidecar goes: the image fails in words, the folder stays',
    async () => {
      expect(run.stderr).toMatch(/taken\.png: SIDECAR_NOT_WRITTEN: The description could not be written/);
      expect((await stat(join(folder, 'taken.png.description.json'))).isDirectory()).toBe(true);
    },
  );

  kind('CLI folder', 'a FIFO where the sidecar goes: never opened, replaced by the description', async () => {
    const record = JSON.parse(await readFile(join(folder, 'piped.png.description.json'), 'utf8'));
    expect(validateRecord(record).caption).toBe('a red square');
  });

  kind('CLI folder', 'a 251-byte file name: described, its sidecar name shortened to fit', async () => {
    const names = await readdir(folder);
    const sidecar = names.find((n) => n.startsWith('lll') && n.endsWith('.description.json'));
    expect(sidecar && Buffer.byteLength(sidecar)).toBeLessThanOrEqual(255);
    expect(validateRecord(JSON.parse(await readFile(join(folder, sidecar as string), 'utf8'))).caption).toBe(
      'a red square',
    );
  });

  kind('CLI folder', 'an emoji file name: described', async () => {
    const record = JSON.parse(await readFile(join(folder, '😀 emoji.png.description.json'), 'utf8'));
    expect(validateRecord(record).caption).toBe('a red square');
  });

  kind('CLI folder', 'an unreadable sidecar from before: kept as .corrupt, said once, replaced', async () => {
    expect(await readFile(join(folder, 'again.png.description.json.corrupt'), 'utf8')).toBe('{"cut short": ');
    expect(run.stderr.match(/again\.png\.description\.json could not be read/g)).toHaveLength(1);
    const record = JSON.parse(await readFile(join(folder, 'again.png.description.json'), 'utf8'));
    expect(validateRecord(record).caption).toBe('a red square');
  });

  kind('CLI folder', 'a damaged JPEG: a failed record saying so', async () => {
    expect(run.stderr).toMatch(/broken\.jpg: CORRUPT_IMAGE/);
  });

  kind('CLI folder', 'a link to /dev/zero: not followed (links in folders are skipped)', async () => {
    expect(existsSync(join(folder, 'zero.png.description.json'))).toBe(false);
  });
});

describe('kill -9 during writes', () => {
  kind(
    'kill -9',
    'the S3 endpoint killed while replacing an object: the old object, whole, after a restart',
    async () => {
      const dataDir = join(dir, 'kill-s3');
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/support/embedded-s3-process.ts', dataDir, 'b'],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const line = await new Promise<string>((resolve) =>
        createInterface({ input: child.stdout }).once('line', resolve),
      );
      const { endpoint } = JSON.parse(line) as { endpoint: string };
      const s3 = localS3Client(endpoint);
      const first = Buffer.alloc(1024 * 1024, 1);
      await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'images/x.png', Body: first }));
      // A second version, streamed slowly; the server is killed half-way through it.
      const port = Number(new URL(endpoint).port);
      const req = request({
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: '/b/images/x.png',
        headers: { 'content-length': String(4 * 1024 * 1024) },
      });
      req.on('error', () => undefined);
      req.write(Buffer.alloc(2 * 1024 * 1024, 2));
      await new Promise((resolve) => setTimeout(resolve, 300));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      req.destroy();
      s3.destroy();

      const again = await startEmbeddedS3({ host: '127.0.0.1', port: 0, dataDir, bucket: 'b' });
      const client = localS3Client(again.endpoint);
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: 'b', Key: 'images/x.png' }));
        expect(Buffer.from(await (out.Body?.transformToByteArray() ?? new Uint8Array())).equals(first)).toBe(
          true,
        );
        expect((await readdir(join(dataDir, 'objects', 'b'))).filter((n) => n.startsWith('.tmp-'))).toEqual(
          [],
        );
      } finally {
        client.destroy();
        await again.close();
      }
    },
    60_000,
  );

  kind(
    'kill -9',
    'the CLI killed while describing a folder: every sidecar on disk is whole',
    async () => {
      const folder = join(dir, 'kill-cli');
      await mkdir(folder);
      for (let i = 0; i < 30; i++) await writeFile(join(folder, `image-${i}.png`), red);
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'functions/cli/main.ts', 'describe', folder],
        { env: { ...process.env, ...env }, stdio: 'ignore' },
      );
      const end = Date.now() + 40_000;
      while (!(await readdir(folder)).some((n) => n.endsWith('.description.json')) && Date.now() < end) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      const sidecars = (await readdir(folder)).filter((n) => n.endsWith('.description.json'));
      expect(sidecars.length).toBeGreaterThan(0);
      for (const name of sidecars) {
        const text = await readFile(join(folder, name), 'utf8');
        expect(() => validateRecord(JSON.parse(text)), name).not.toThrow();
      }
    },
    60_000,
  );
});
