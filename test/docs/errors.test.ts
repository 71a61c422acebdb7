import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeError } from '#engine/errors.ts';
import { intakeImage } from '#engine/image/intake.ts';
import { keyLayout } from '#engine/pipeline/key-layout.ts';
import type { ObjectStore, UploadSigner } from '#engine/ports.ts';
import { createUploadApiHandler } from '#engine/uploads/http-api.ts';
import { uploadSettings } from '#engine/uploads/settings.ts';
import { runCli } from '../../functions/cli/cli.ts';
import { collectTargets } from '../../functions/cli/targets.ts';
import { API_UNREACHABLE, storageRefusal, UPLOAD_INTERRUPTED } from '../../functions/local/web/messages.js';
import { imageFixture } from '../fixtures/images.ts';
import { captureOutput } from '../support/capture-output.ts';
import {
  apiEvent,
  getUploadEvent,
  MemoryObjectStore,
  postUploadsEvent,
  silentLogger,
} from '../unit/api/support.ts';
import { firstCode, readDoc, tableUnder } from './markdown.ts';

/**
 * docs/errors.md lists every error a person can cause, with an example and the exact message. Each
 * row is produced here from its example and compared word for word, and every case produced here
 * must have its row: the table cannot drift from the code in either direction.
 */
const rows = tableUnder(readDoc('docs/errors.md'), 'The messages');
const MB = 1024 * 1024;
const ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

interface Produced {
  readonly code: string;
  readonly message: string;
  /** Where the exact rule went (API `detail`, `error.detail`), when the person's message is not it. */
  readonly detail?: string;
}

// The upload API as deployed: 20 MiB limit, a bucket that may fail on demand.
let storeDown = false;
const store = new MemoryObjectStore();
const failingStore = new Proxy(store, {
  get(target, name, receiver) {
    if (storeDown && name === 'head') return async () => Promise.reject(new Error('connect ECONNREFUSED'));
    return Reflect.get(target, name, receiver);
  },
}) as ObjectStore;
const signer: UploadSigner = {
  sign: async () => ({ url: 'http://bucket/', fields: {} }),
} as unknown as UploadSigner;
const api = createUploadApiHandler({
  settings: uploadSettings({ bucket: 'b', layout: keyLayout({}), maxBytes: 20 * MB }),
  store: failingStore,
  signer,
  logger: silentLogger(),
});

async function fromApi(result: Promise<APIGatewayProxyStructuredResultV2>): Promise<Produced> {
  const { error } = JSON.parse(String((await result).body)) as { error: Produced };
  return error;
}
const ok = { filename: 'cat.png', contentType: 'image/png', size: 10 };
const post = (body: unknown) => fromApi(api(postUploadsEvent(body)));

async function fromIntake(
  bytes: Promise<Uint8Array> | Uint8Array,
  maxInputBytes = 50 * MB,
): Promise<Produced> {
  try {
    await intakeImage(await bytes, { maxInputBytes, maxInputPixels: 100_000_000, workingSize: 1024 });
  } catch (error) {
    if (error instanceof DescribeError)
      return { code: error.code, message: error.message, detail: error.detail };
    throw error;
  }
  throw new Error('the image was accepted');
}

let workDir: string;
async function fromCli(argv: string[]): Promise<Produced> {
  const { output, stderr } = captureOutput();
  const status = await runCli(argv, {}, output);
  expect(status).toBe(2);
  return { code: 'usage (exit 2)', message: stderr().split('\n')[0] ?? '' };
}

const SVG_EXTERNAL = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="https://example.com/a.png" width="10" height="10"/></svg>',
);

const produce: Record<string, () => Promise<Produced>> = {
  'upload-empty': () => post({ ...ok, size: 0 }),
  'upload-too-large': () => post({ ...ok, size: 30 * MB }),
  'upload-no-size': () => post({ ...ok, size: undefined }),
  'upload-svg': () => post({ ...ok, contentType: 'image/svg+xml' }),
  'upload-heic': () => post({ ...ok, contentType: 'image/heic' }),
  'upload-other-type': () => post({ ...ok, contentType: 'application/pdf' }),
  'upload-no-type': () => post({ ...ok, contentType: '' }),
  'upload-name-folders': () => post({ ...ok, filename: '../x.png' }),
  'upload-name-control': () => post({ ...ok, filename: 'cat\u202egnp.exe' }),
  'upload-name-long': () => post({ ...ok, filename: `${'a'.repeat(296)}.png` }),
  'upload-name-blank': () => post({ ...ok, filename: '  ' }),
  'upload-name-missing': () => post({ ...ok, filename: undefined }),
  'upload-not-json': () => post('{oops'),
  'upload-no-body': () => post(''),
  'upload-not-object': () => post('[]'),
  'upload-body-too-large': () => post(JSON.stringify({ ...ok, padding: 'x'.repeat(16 * 1024) })),
  'upload-unknown-id': () => fromApi(api(getUploadEvent('not-an-id'))),
  'api-no-route': () =>
    fromApi(api(apiEvent({ routeKey: '$default', method: 'DELETE', rawPath: `/uploads/${ID}` }))),
  'api-internal': async () => {
    storeDown = true;
    try {
      return await fromApi(api(getUploadEvent(ID)));
    } finally {
      storeDown = false;
    }
  },
  'image-empty': () => fromIntake(Buffer.alloc(0)),
  'image-too-large': () => fromIntake(Buffer.alloc(60 * MB), 50 * MB),
  'image-text-file': () => fromIntake(imageFixture('textFile')),
  'image-pdf': () => fromIntake(imageFixture('pdf')),
  'image-heic': () => fromIntake(imageFixture('heicLike')),
  'image-svg-external': () => fromIntake(SVG_EXTERNAL),
  'image-corrupt': () => fromIntake(imageFixture('truncatedJpeg')),
  'image-too-many-pixels': () => fromIntake(imageFixture('pngBomb')),
  'image-corrupt-scan': () => fromIntake(imageFixture('corruptScanJpeg')),
  'image-just-over-pixels': () => fromIntake(imageFixture('pngJustOver100Megapixels')),
  'image-unusual-dimensions': () => fromIntake(imageFixture('pngOneColumn100Megapixels')),
  // What only the browser sees (functions/local/web/messages.js, used by app.js).
  'page-api-unreachable': async () => ({ code: 'none (the browser)', message: API_UNREACHABLE }),
  'page-upload-interrupted': async () => ({ code: 'none (the browser)', message: UPLOAD_INTERRUPTED }),
  'page-storage-too-large': async () => ({
    code: 'EntityTooLarge',
    message: storageRefusal(
      400,
      '<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed size</Message></Error>',
    ),
  }),
  'page-storage-expired': async () => ({
    code: 'AccessDenied',
    message: storageRefusal(
      403,
      '<Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy expired.</Message></Error>',
    ),
  }),
  'cli-no-command': () => fromCli([]),
  'cli-no-paths': () => fromCli(['describe']),
  'cli-bad-mode': () => fromCli(['describe', 'x.jpg', '--mode', 'slow']),
  'cli-bad-threads': () => fromCli(['describe', 'x.jpg', '--threads', 'two']),
  'cli-unknown-option': () => fromCli(['describe', 'x.jpg', '--colour']),
  'cli-unknown-command': () => fromCli(['summarise', 'x.jpg']),
  'search-unknown-category': () => fromCli(['search', '--category', 'pets', '--dir', workDir]),
  'search-no-folder': () => fromCli(['search', 'x', '--dir', './nope']),
  'cli-missing-path': async () => {
    const { problems } = await collectTargets(['missing.jpg'], false);
    return problems[0] as Produced;
  },
  'cli-no-images': async () => {
    const folder = join(workDir, 'notes');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'notes.txt'), 'hello');
    const { problems } = await collectTargets([folder], false);
    const problem = problems[0] as Produced;
    // The row shows the folder by its name; the message carries the path as given.
    return { ...problem, message: problem.message.replace(folder, 'notes') };
  },
};

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'errors-doc-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('docs/errors.md: every message a person can cause', () => {
  const documented = rows.map((cells) => ({
    id: firstCode(cells[0] ?? '') ?? '',
    code: firstCode(cells[1] ?? '') ?? cells[1] ?? '',
    message: (cells[4] ?? '').replace(/\\\\/g, '\\'),
  }));

  it('documents exactly the cases the code produces', () => {
    expect(documented.map((row) => row.id).sort()).toEqual(Object.keys(produce).sort());
  });

  it.each(documented.map((row) => [row.id, row] as const))(
    '%s: the code says what the table says',
    async (id, row) => {
      const produced = await produce[id]?.();

      expect(produced?.code).toBe(row.code);
      expect(produced?.message).toBe(row.message);
      // A sentence for a person, not a developer's "Expected X for name but received Y".
      expect(produced?.message).not.toMatch(/^Expected |but received/);
    },
  );

  it('keeps the exact broken rule for programs in detail', async () => {
    const empty = await produce['upload-empty']?.();
    const big = await produce['image-too-large']?.();

    expect(empty?.detail).toBe(
      'Expected an integer number of bytes from 1 to 20971520 for size but received number 0',
    );
    expect(big?.detail).toContain('MAX_INPUT_BYTES');
  });
});
