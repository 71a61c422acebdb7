import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { localS3Client } from '#emulators/local-servers.ts';
import { keptAsideKeyFor, keyLayout, sidecarKeyFor } from '#engine/pipeline/key-layout.ts';
import { parseStoredRecord } from '#engine/pipeline/staleness.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { DEFAULT_LOCAL_OPTIONS } from '../../functions/local/options.ts';
import { startEmbeddedS3 } from '../../functions/local/servers.ts';
import { type LocalStack, type StackEvent, startLocalStack } from '../../functions/local/stack.ts';
import { imageFixture } from '../fixtures/images.ts';
import { expectClientError, hostileTally, rawRequest } from '../support/hostile.ts';
import { testStackOptions } from '../support/local-stack-options.ts';
import { sidecarWhen } from '../support/sidecar-when.ts';

/**
 * The hostile-input suite against `npm start`'s stack: bad requests to the S3 endpoint and to the
 * page/API server, bad keys written straight into S3, bad files dropped into the inbox, and a data
 * folder left corrupt by an earlier run. Each kind ends with a clear refusal or a failed record,
 * the stack keeps running, nothing is written outside the data folder, and the good images are
 * described. The counts per channel are printed at the end.
 */
const { kind, total } = hostileTally('hostile inputs (local stack)');
const bucket = DEFAULT_LOCAL_OPTIONS.bucket;
const layout = keyLayout();
const MAX_BYTES = 2 * 1024 * 1024;

let dir: string;
let dataDir: string;
let inboxDir: string;
let stack: LocalStack;
let store: S3ObjectStore;
let s3Port: number;
let webPort: number;
let red: Buffer;
const events: StackEvent[] = [];
const sockets: Server[] = [];

const errorsAbout = (fragment: string) =>
  events
    .filter((e) => e.type === 'error' && e.where.includes(fragment))
    .map((e) => (e.type === 'error' ? String((e.error as Error)?.message ?? e.error) : ''));

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > end) throw new Error(`Expected ${what} in time`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const described = (key: string): Promise<DescriptionRecord> =>
  sidecarWhen(store, sidecarKeyFor(layout, key), (r) => r.status.fast.state !== 'pending', {
    timeoutMs: 30_000,
  });

/** The Sec-Fetch-* headers a browser sends with a request. */
const secFetch = (site: string, mode: string, dest: string) => ({
  'sec-fetch-site': site,
  'sec-fetch-mode': mode,
  'sec-fetch-dest': dest,
});

/** Sidecars that an earlier run left unreadable, and the images they belong to. */
const CORRUPT_SIDECARS: ReadonlyArray<readonly [string, string]> = [
  ['{broken', 'truncated JSON'],
  ['', 'an empty file'],
  ['null', 'JSON null'],
  ['[1,2,3]', 'a JSON array'],
  ['{"schemaVersion":2}', 'JSON that is not a record'],
  ['\u0000\u00ff\u00fe binary', 'binary junk'],
  ['{"schemaVersion":2,"source":{"kind":"s3","key":"images', 'a record cut short'],
];

/** What the fast stage keeps of a sidecar: the bytes, or the JSON on one line when it parses. */
function keptBytes(body: string): Buffer {
  try {
    return Buffer.from(`${JSON.stringify(JSON.parse(body))}\n`);
  } catch {
    return Buffer.from(body);
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-stack-'));
  dataDir = join(dir, 'data');
  inboxDir = join(dir, 'inbox');
  await mkdir(inboxDir, { recursive: true });
  red = await imageFixture('solidRed');

  // An earlier run left unreadable sidecars, a damaged object file and a half-written temporary file.
  const previous = await startEmbeddedS3({ host: '127.0.0.1', port: 0, dataDir, bucket });
  const s3 = localS3Client(previous.endpoint);
  for (const [index, [body]] of CORRUPT_SIDECARS.entries()) {
    const key = `images/corrupt/${index}.png`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: red, ContentType: 'image/png' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: sidecarKeyFor(layout, key), Body: body }));
  }
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'images/damaged-file.png', Body: red }));
  s3.destroy();
  await previous.close();
  const objects = join(dataDir, 'objects', bucket);
  // Damage one object file on disk (its last line no longer matches), leave a temporary file behind.
  const damaged = createHash('sha256')
    .update(bucket)
    .update('\0')
    .update('images/damaged-file.png')
    .digest('hex');
  await appendFile(join(objects, damaged), 'garbage after the description line');
  await writeFile(join(objects, '.tmp-left-by-kill'), 'half a write');

  process.env.MAX_INPUT_BYTES = String(MAX_BYTES);
  stack = await startLocalStack(testStackOptions(dataDir, { inboxDir }), { onEvent: (e) => events.push(e) });
  store = new S3ObjectStore({ bucket, client: stack.s3 });
  s3Port = Number(new URL(stack.s3Endpoint).port);
  webPort = Number(new URL(stack.webUrl).port);
});

afterAll(async () => {
  await stack?.stop();
  for (const server of sockets) server.close();
  delete process.env.MAX_INPUT_BYTES;
  await rm(dir, { recursive: true, force: true });
});

describe('corrupt state left by an earlier run', () => {
  for (const [index, [, what]] of CORRUPT_SIDECARS.entries()) {
    kind(
      'stored state',
      `a sidecar that is ${what}: the start goes on, it is kept aside once and the image described again`,
      async () => {
        const key = `images/corrupt/${index}.png`;
        const record = await sidecarWhen(
          store,
          sidecarKeyFor(layout, key),
          (r) => r.status.fast.state === 'done',
        );
        expect(record.caption).toBe('a red square');
        const aside = keptAsideKeyFor(sidecarKeyFor(layout, key));
        expect(
          Buffer.from((await store.get(aside)).bytes).equals(keptBytes(CORRUPT_SIDECARS[index]?.[0] ?? '')),
        ).toBe(true);
        await until('the kept-aside report', () =>
          events.some((e) => e.type === 'kept-aside' && e.keptAs === aside),
        );
        expect(events.filter((e) => e.type === 'kept-aside' && e.keptAs === aside)).toHaveLength(1);
      },
    );
  }

  kind(
    'stored state',
    'an object file damaged on disk: moved aside, reported once, reads as absent',
    async () => {
      const reports = events.filter(
        (e) => e.type === 'kept-aside' && e.keptAs.includes(`${join('objects', bucket, '.corrupt')}`),
      );
      expect(reports).toHaveLength(1);
      expect(existsSync(reports[0]?.type === 'kept-aside' ? reports[0].keptAs : '')).toBe(true);
    },
  );

  kind('stored state', 'a temporary file a killed write left behind: removed at start', async () => {
    expect(existsSync(join(dataDir, 'objects', bucket, '.tmp-left-by-kill'))).toBe(false);
  });
});

describe('the S3 endpoint', () => {
  const malformed = ['%', '%E0%A4%A', '%zz', '%FF', '%C0%AF', '%ED%A0%80', '%F4%90%80%80'];
  for (const segment of malformed) {
    kind(
      'S3 request',
      `a malformed percent-encoding ${segment} in the key: 400, and the endpoint lives on`,
      async () => {
        expectClientError(
          await rawRequest(s3Port, { method: 'PUT', path: `/${bucket}/images/${segment}`, body: 'x' }),
          400,
        );
        expect((await rawRequest(s3Port, { path: `/${bucket}?list-type=2&prefix=none` })).status).toBe(200);
      },
    );
  }

  // Ports are known only once the stack runs: each kind names what it sends, the value is built late.
  const hosts: ReadonlyArray<readonly [string, () => string]> = [
    ['another name', () => 'evil.example'],
    ['another name with our port', () => `evil.example:${s3Port}`],
    ['our address with another port', () => `127.0.0.1:${s3Port + 1}`],
    ['empty', () => ''],
    ['a look-alike name starting with localhost', () => `localhost.evil.example:${s3Port}`],
    ['our address without the port', () => '127.0.0.1'],
  ];
  for (const [what, host] of hosts) {
    kind('S3 request', `a Host header of ${what} (DNS rebinding): 403`, async () => {
      expectClientError(
        await rawRequest(s3Port, { path: `/${bucket}?list-type=2`, headers: { host: host() } }),
        403,
      );
    });
  }

  const origins: ReadonlyArray<readonly [string, () => string]> = [
    ['another site', () => 'http://evil.example'],
    ['null (a sandboxed frame or a file: page)', () => 'null'],
    ['the endpoint itself', () => `http://127.0.0.1:${s3Port}`],
    ["the page's address over https", () => `https://127.0.0.1:${webPort}`],
  ];
  for (const [what, origin] of origins) {
    kind('S3 request', `an Origin of ${what}: 403, no CORS header`, async () => {
      const response = await rawRequest(s3Port, {
        path: `/${bucket}?list-type=2`,
        headers: { origin: origin() },
      });
      expectClientError(response, 403);
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
    });
  }

  kind('S3 request', 'a CORS preflight from another site: 403', async () => {
    const response = await rawRequest(s3Port, {
      method: 'OPTIONS',
      path: `/${bucket}`,
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expectClientError(response, 403);
  });

  kind('S3 request', 'a cross-site GET without Origin (an <img> on another site): 403', async () => {
    await store.putBytes('images/cross-site.png', red);
    const response = await rawRequest(s3Port, {
      path: `/${bucket}/images/cross-site.png`,
      headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' },
    });
    expectClientError(response, 403);
  });

  kind(
    'S3 request',
    'an <img> on another localhost port (same-site, no Origin): 403, CORP same-origin',
    async () => {
      await store.putBytes('images/cross-site.png', red);
      const response = await rawRequest(s3Port, {
        path: `/${bucket}/images/cross-site.png`,
        headers: secFetch('same-site', 'no-cors', 'image'),
      });
      expectClientError(response, 403);
      expect(response.headers['cross-origin-resource-policy']).toBe('same-origin');
      // The page's own upload form (same-site, with its Origin) is what the endpoint is for.
      const listed = await rawRequest(s3Port, {
        path: `/${bucket}?list-type=2&prefix=images/cross-site`,
        headers: { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'cors', origin: stack.webUrl },
      });
      expect(listed.status, listed.text).toBe(200);
      expect(listed.headers['access-control-allow-origin']).toBe(stack.webUrl);
      expect(listed.headers['cross-origin-resource-policy']).toBe('same-origin');
    },
  );

  kind('S3 request', 'a form POST from another site: 403 and nothing stored', async () => {
    const boundary = 'x-boundary';
    const body = `--${boundary}\r\nContent-Disposition: form-data; name="key"\r\n\r\nimages/planted.png\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\nnot really\r\n--${boundary}--\r\n`;
    const response = await rawRequest(s3Port, {
      method: 'POST',
      path: `/${bucket}`,
      headers: { origin: 'http://evil.example', 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
    });
    expectClientError(response, 403);
    await expect(store.head('images/planted.png')).rejects.toThrow(/Expected an object/);
  });

  kind('S3 request', 'a key of 1,025 bytes: 400 KeyTooLongError', async () => {
    const response = await rawRequest(s3Port, {
      method: 'PUT',
      path: `/${bucket}/images/${'k'.repeat(1018)}`,
      body: 'x',
    });
    expectClientError(response, 400);
    expect(response.text).toContain('KeyTooLongError');
  });

  kind('S3 request', 'a PUT whose body stops short: no object, never half of one', async () => {
    await new Promise<void>((resolve) => {
      const socket = connect(s3Port, '127.0.0.1', () => {
        socket.write(
          `PUT /${bucket}/images/cut-short.png HTTP/1.1\r\nHost: 127.0.0.1:${s3Port}\r\nContent-Length: 100000\r\n\r\n`,
        );
        socket.write(red.subarray(0, 20));
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 200);
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(store.head('images/cut-short.png')).rejects.toThrow(/Expected an object/);
  });

  kind('S3 request', 'GETs while a PUT replaces the object: each read is the old object, whole', async () => {
    const key = 'notes/race.bin';
    const before = Buffer.alloc(1024 * 1024, 1);
    await store.putBytes(key, before);
    const objects = join(dataDir, 'objects', bucket);
    // A file written since `since` holding at least the first half: the new version is landing.
    const landing = async (since: number) => {
      for (const name of await readdir(objects)) {
        const info = await stat(join(objects, name));
        if (info.isFile() && info.mtimeMs > since && info.size >= 1024 * 1024) return true;
      }
      return false;
    };
    const since = (await stat(objects)).mtimeMs;
    // The new version arrives in two halves; the reads happen while only the first has landed.
    const put = request({
      host: '127.0.0.1',
      port: s3Port,
      method: 'PUT',
      path: `/${bucket}/${key}`,
      headers: { 'content-length': String(2 * 1024 * 1024) },
    });
    const answered = new Promise<number>((resolve, reject) => {
      put.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      put.on('error', reject);
    });
    put.write(Buffer.alloc(1024 * 1024, 2));
    await until('the first half on disk', () => landing(since));
    for (let read = 0; read < 5; read++) {
      expect(Buffer.from((await store.get(key)).bytes).equals(before)).toBe(true);
    }
    put.end(Buffer.alloc(1024 * 1024, 2));
    expect(await answered).toBe(200);
    expect(Buffer.from((await store.get(key)).bytes).equals(Buffer.alloc(2 * 1024 * 1024, 2))).toBe(true);
  });

  const oddRequests: ReadonlyArray<
    readonly [string, { method?: string; path: string; headers?: Record<string, string>; body?: string }]
  > = [
    [
      'If-Match of garbage',
      {
        method: 'PUT',
        path: '/BUCKET/images/a-conditional.png',
        headers: { 'if-match': '"not-an-etag' },
        body: 'x',
      },
    ],
    [
      'a Range header of garbage',
      { path: '/BUCKET/images/cross-site.png', headers: { range: 'bytes=zz-yy' } },
    ],
    ['a continuation token of garbage', { path: '/BUCKET?list-type=2&continuation-token=%%%garbage' }],
    ['a bucket that does not exist', { path: '/no-such-bucket/images/x.png' }],
    [
      'a POST form without a key',
      {
        method: 'POST',
        path: '/BUCKET',
        headers: { 'content-type': 'multipart/form-data; boundary=b' },
        body: '--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nx\r\n--b--\r\n',
      },
    ],
    [
      'a multipart body of garbage',
      {
        method: 'POST',
        path: '/BUCKET',
        headers: { 'content-type': 'multipart/form-data; boundary=b' },
        body: 'not multipart at all',
      },
    ],
    ['a path without a leading slash', { path: '*' }],
  ];
  for (const [name, request] of oddRequests) {
    kind('S3 request', `${name}: a client error, the endpoint lives on`, async () => {
      const response = await rawRequest(s3Port, { ...request, path: request.path.replace('BUCKET', bucket) });
      expect(response.status, response.text).toBeLessThan(500);
      expect((await rawRequest(s3Port, { path: `/${bucket}?list-type=2&prefix=none` })).status).toBe(200);
    });
  }

  kind('S3 request', 'DELETE of a key that never existed: 204, nothing else happens', async () => {
    expect(
      (await rawRequest(s3Port, { method: 'DELETE', path: `/${bucket}/images/never-was.png` })).status,
    ).toBe(204);
  });

  // Keys S3 accepts, written raw (paths not normalised): each is stored inside the data folder
  // and described.
  const keys: ReadonlyArray<readonly [string, string]> = [
    ['images/../../../../../../tmp/hostile-escape-1.png', 'raw ../ segments'],
    ['images/%2E%2E/%2E%2E/%2E%2E/%2E%2E/tmp/hostile-escape-2.png', 'encoded ../ segments'],
    ['images/..%2F..%2F..%2Ftmp%2Fhostile-escape-3.png', 'encoded / inside a segment'],
    ['images/..%5C..%5Chostile-escape-4.png', 'backslashes'],
    ['images/./dot.png', 'a ./ segment'],
    ['images//double-slash.png', 'an empty segment'],
    [`images/${encodeURIComponent('😀 smile.png')}`, 'an emoji'],
    [`images/${encodeURIComponent('שלום مرحبا.png')}`, 'right-to-left scripts'],
    [`images/${encodeURIComponent('漢字かな한글.png')}`, 'CJK'],
    [`images/${encodeURIComponent('a\u202Egnp.exe')}`, 'a bidi override'],
    ['images/nul%00byte.png', 'a NUL character'],
    ['images/control%01char.png', 'a control character'],
    ['images/new%0Aline.png', 'a newline'],
    ['images/plus+and%20space.png', "'+' and spaces"],
    ['images/percent%25literal.png', 'a literal %'],
    [`images/${'s'.repeat(1000)}.png`, 'one 1,000-byte segment'],
    [`images/${'a/'.repeat(300)}deep.png`, '300 folders deep'],
    [`images/${encodeURIComponent('é'.repeat(505))}.png`, '1,021 bytes of two-byte characters'],
    [`images/${'k'.repeat(1013)}`, 'exactly 1,024 bytes'],
    [`images/${encodeURIComponent('e\u0301.png')}`, 'a decomposed (NFD) accent'],
    [`images/${encodeURIComponent('trailing space.png ')}`, 'a trailing space'],
  ];
  for (const [path, what] of keys) {
    kind('S3 key', `${what}: stored inside the data folder and described`, async () => {
      const response = await rawRequest(s3Port, {
        method: 'PUT',
        path: `/${bucket}/${path}`,
        headers: { 'content-type': 'image/png' },
        body: red,
      });
      expect(response.status, response.text).toBe(200);
      const key = path
        .split('/')
        .map((segment) => decodeURIComponent(segment))
        .join('/');
      expect(await store.get(key).then((o) => Buffer.from(o.bytes).equals(red))).toBe(true);
      const record = await described(key);
      expect(record.caption).toBe('a red square');
      expect((await readdir(tmpdir())).filter((name) => name.startsWith('hostile-escape'))).toEqual([]);
      expect(
        // The stack's own folders: readable descriptions, the object files, the search index file.
        (await readdir(dataDir)).filter(
          (name) => !['descriptions', 'objects', 'search-index'].includes(name),
        ),
      ).toEqual([]);
    });
  }

  kind(
    'S3 key',
    'junk written over a sidecar while running: described again, kept aside, said once',
    async () => {
      await store.putBytes('images/overwritten.png', red);
      const sidecar = sidecarKeyFor(layout, 'images/overwritten.png');
      await sidecarWhen(store, sidecar, (r) => r.status.fast.state === 'done');
      await store.putBytes(sidecar, Buffer.from('{"half": '));
      await until(
        'the junk replaced',
        async () =>
          parseStoredRecord((await store.getJson(sidecar))?.value)?.caption === 'a red square' &&
          (await store.head(keptAsideKeyFor(sidecar)).catch(() => undefined)),
      );
      await until('the report', () => events.some((e) => e.type === 'kept-aside' && e.stored === sidecar));
      expect(events.filter((e) => e.type === 'kept-aside' && e.stored === sidecar)).toHaveLength(1);
    },
  );
});

describe('the page and its API', () => {
  const hosts: ReadonlyArray<readonly [string, () => string]> = [
    ['another name', () => 'evil.example'],
    ['another name with our port', () => `attacker.example:${webPort}`],
    ['our address with another port', () => `127.0.0.1:${webPort + 1}`],
    ['empty', () => ''],
  ];
  for (const path of ['/records', '/search?q=red']) {
    for (const [what, host] of hosts) {
      kind('page request', `${path} with a Host header of ${what} (DNS rebinding): 403`, async () => {
        expectClientError(await rawRequest(webPort, { path, headers: { host: host() } }), 403);
      });
    }
  }

  kind('page request', 'POST /uploads from another site: 403', async () => {
    const response = await rawRequest(webPort, {
      method: 'POST',
      path: '/uploads',
      headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'a.png', contentType: 'image/png', size: 10 }),
    });
    expectClientError(response, 403);
  });

  for (const path of ['/thumbnails/%E0%A4%A', '/uploads/%zz', '/%', '/records/%C0%AF']) {
    kind('page request', `a malformed percent-encoding in ${path}: a client error`, async () => {
      expectClientError(await rawRequest(webPort, { path }));
    });
  }

  const bodies: ReadonlyArray<readonly [string, string]> = [
    [
      'a file name with half a surrogate pair',
      '{"filename":"a\\ud800.png","contentType":"image/png","size":10}',
    ],
    ['invalid JSON', '{"filename": '],
    ['a JSON array', '[1,2]'],
    ['JSON null', 'null'],
    ['a JSON number', '42'],
    [
      'a 10,000-character file name',
      JSON.stringify({ filename: `${'a'.repeat(10_000)}.png`, contentType: 'image/png', size: 10 }),
    ],
    [
      'a file name with ../',
      JSON.stringify({ filename: '../../etc/passwd.png', contentType: 'image/png', size: 10 }),
    ],
    [
      'a file name with a NUL',
      JSON.stringify({ filename: 'a\u0000.png', contentType: 'image/png', size: 10 }),
    ],
    [
      'a content type that is not an image',
      JSON.stringify({ filename: 'a.html', contentType: 'text/html', size: 10 }),
    ],
    ['a negative size', JSON.stringify({ filename: 'a.png', contentType: 'image/png', size: -1 })],
    ['a size of 1e30', JSON.stringify({ filename: 'a.png', contentType: 'image/png', size: 1e30 })],
    ['no size', JSON.stringify({ filename: 'a.png', contentType: 'image/png' })],
    ['a size as text', JSON.stringify({ filename: 'a.png', contentType: 'image/png', size: '10' })],
    [
      'a 2 MB body',
      JSON.stringify({ filename: 'a.png', contentType: 'image/png', size: 10, pad: 'x'.repeat(2_000_000) }),
    ],
  ];
  for (const [what, body] of bodies) {
    kind('upload API', `POST /uploads with ${what}: a 4xx with a message`, async () => {
      const response = await rawRequest(webPort, {
        method: 'POST',
        path: '/uploads',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expectClientError(response);
      expect(response.text).toMatch(/"message":"[^"]{10,}/);
    });
  }

  const queries = [
    'limit=-1',
    'from=garbage',
    `q=${'x'.repeat(10_000)}`,
    'colour=%3Cscript%3E',
    'sort=%00',
    'cursor=%FF%FF',
  ];
  for (const query of queries) {
    kind('page request', `GET /search?${query.slice(0, 20)}…: no 5xx`, async () => {
      const response = await rawRequest(webPort, { path: `/search?${query}` });
      expect(response.status, response.text).toBeLessThan(500);
    });
  }

  const others: ReadonlyArray<readonly [string, string, string, number]> = [
    ['GET', '/uploads/not-a-uuid', 'an upload id that is not one', 404],
    ['GET', '/thumbnails/no-such-image.png', 'a thumbnail of nothing', 404],
    ['PUT', '/records', 'PUT on a read-only route', 405],
    ['DELETE', '/search', 'DELETE on search', 405],
  ];
  for (const [method, path, what, status] of others) {
    kind('page request', `${what}: ${status}`, async () => {
      expectClientError(await rawRequest(webPort, { method, path }), status);
    });
  }

  // What a browser sends for an <img>, a no-cors fetch or a frame on another page: no Origin.
  const embeds: ReadonlyArray<readonly [string, string, Record<string, string>]> = [
    ['an <img> on another site', '/thumbnails/seen.png', secFetch('cross-site', 'no-cors', 'image')],
    [
      'an <img> on another localhost port (same-site)',
      '/thumbnails/seen.png',
      secFetch('same-site', 'no-cors', 'image'),
    ],
    [
      'a no-cors fetch of /records from another localhost port',
      '/records',
      secFetch('same-site', 'no-cors', 'empty'),
    ],
    [
      'a <script src> of /search on another site',
      '/search?q=red',
      secFetch('cross-site', 'no-cors', 'script'),
    ],
    ['the page framed by another site', '/', secFetch('cross-site', 'navigate', 'iframe')],
    [
      'a thumbnail opened in a tab from another site',
      '/thumbnails/seen.png',
      secFetch('cross-site', 'navigate', 'document'),
    ],
  ];
  for (const [what, path, headers] of embeds) {
    kind('page request', `${what}: 403, nothing of the image or records sent`, async () => {
      await store.putBytes('images/seen.png', red);
      const response = await rawRequest(webPort, { path, headers });
      expectClientError(response, 403);
      expect(response.headers['content-type']).toMatch(/json/);
      expect(response.text).not.toContain('seen.png');
    });
  }

  kind(
    'page request',
    "the page's own thumbnails, records and search still load, marked same-origin only",
    async () => {
      await store.putBytes('images/seen.png', red);
      const own = secFetch('same-origin', 'no-cors', 'image');
      const image = await rawRequest(webPort, { path: '/thumbnails/seen.png', headers: own });
      expect(image.status).toBe(200);
      expect(image.headers['content-type']).toBe('image/webp');
      expect(image.headers['cross-origin-resource-policy']).toBe('same-origin');
      for (const path of ['/records', '/search?q=red']) {
        const response = await rawRequest(webPort, {
          path,
          headers: { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' },
        });
        expect(response.status, response.text).toBe(200);
      }
      // A browser too old for Sec-Fetch-Site sends nothing: served, and CORP stops other origins.
      const old = await rawRequest(webPort, { path: '/thumbnails/seen.png' });
      expect(old.status).toBe(200);
      expect(old.headers['cross-origin-resource-policy']).toBe('same-origin');
    },
  );

  kind(
    'page request',
    'the page opened from a link on another site: served, but never in a frame',
    async () => {
      const response = await rawRequest(webPort, {
        path: '/',
        headers: {
          'sec-fetch-site': 'cross-site',
          'sec-fetch-mode': 'navigate',
          'sec-fetch-dest': 'document',
        },
      });
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toMatch(/text\/html/);
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['content-security-policy']).toBe("frame-ancestors 'none'");
    },
  );

  kind('page request', 'a thumbnail of something that is not an image: 415', async () => {
    await store.putBytes('images/notes.png', Buffer.from('not an image'));
    expectClientError(await rawRequest(webPort, { path: '/thumbnails/notes.png' }), 415);
  });

  kind('upload API', 'an emoji file name, uploaded the way the page does: described', async () => {
    const filename = '😀 ünïcödé photo.png';
    const asked = await rawRequest(webPort, {
      method: 'POST',
      path: '/uploads',
      headers: { 'content-type': 'application/json', origin: stack.webUrl },
      body: JSON.stringify({ filename, contentType: 'image/png', size: red.length }),
    });
    expect(asked.status, asked.text).toBeLessThan(300);
    const ticket = JSON.parse(asked.text) as { id: string; url: string; fields: Record<string, string> };
    const form = new FormData();
    for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
    form.append('file', new Blob([new Uint8Array(red)], { type: 'image/png' }), filename);
    const stored = await fetch(ticket.url, { method: 'POST', body: form, headers: { origin: stack.webUrl } });
    expect(stored.status).toBeLessThan(300);
    expect(stored.headers.get('access-control-allow-origin')).toBe(stack.webUrl);
    const done = await until('the upload described', async () => {
      const status = await fetch(`${stack.webUrl}/uploads/${ticket.id}`).then(
        (r) => r.json() as Promise<{ status: string }>,
      );
      return status.status === 'done' ? status : undefined;
    });
    expect(done.status).toBe('done');
  });
});

describe('the inbox', () => {
  const drop = async (name: string | Buffer, bytes: Buffer) => {
    const path =
      typeof name === 'string' ? join(inboxDir, name) : Buffer.concat([Buffer.from(`${inboxDir}/`), name]);
    await writeFile(path, bytes);
  };
  const keyOf = (name: string) => `images/${name}`;

  const goodNames: ReadonlyArray<readonly [string, string]> = [
    [`${'n'.repeat(247)}.png`, 'a 251-byte name'],
    [`${'m'.repeat(251)}.png`, 'a 255-byte name'],
    ['😀 party 🎉.png', 'emoji'],
    ['control\u0001char.png', 'a control character'],
    [`${'deep/'.repeat(40)}inside.png`, '40 folders deep'],
  ];
  for (const [name, what] of goodNames) {
    kind('inbox', `a file with ${what}: described, fast and detailed`, async () => {
      await mkdir(join(inboxDir, name, '..'), { recursive: true });
      await drop(name, red);
      const record = await sidecarWhen(
        store,
        sidecarKeyFor(layout, keyOf(name)),
        (r) => r.status.detailed.state === 'done',
        { timeoutMs: 40_000 },
      );
      expect(record.caption).toBe('a red square');
    });
  }

  kind('inbox', 'a name that is not UTF-8: an error that says so, nothing else stops', async () => {
    await drop(Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x70, 0x6e, 0x67]), red);
    await until('the error', () => errorsAbout('inbox').some((m) => m.includes('not valid UTF-8')));
  });

  kind('inbox', 'a FIFO named like an image: refused unopened, no hang', async () => {
    await promisify(execFile)('mkfifo', [join(inboxDir, 'pipe.jpg')]);
    await until('the error', () => errorsAbout('pipe.jpg').some((m) => m.includes('named pipe')));
  });

  kind('inbox', 'a socket named like an image: refused', async () => {
    const server = createServer();
    sockets.push(server);
    await new Promise<void>((resolve) => server.listen(join(inboxDir, 'socket.png'), resolve));
    await until('the error', () => errorsAbout('socket.png').some((m) => m.includes('socket')));
  });

  kind('inbox', 'a link to /dev/zero named like an image: refused, nothing read', async () => {
    await symlink('/dev/zero', join(inboxDir, 'zero.png'));
    await until('the error', () => errorsAbout('zero.png').some((m) => m.includes('a device')));
  });

  kind('inbox', 'a loop of links: an error, no hang', async () => {
    await symlink(join(inboxDir, 'loop-b.png'), join(inboxDir, 'loop-a.png'));
    await symlink(join(inboxDir, 'loop-a.png'), join(inboxDir, 'loop-b.png'));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await drop('after-loop.png', red);
    expect((await described(keyOf('after-loop.png'))).caption).toBe('a red square');
  });

  kind('inbox', 'a file over the size limit: refused before reading, said in words', async () => {
    await drop('huge.png', Buffer.concat([red, Buffer.alloc(MAX_BYTES + 1)]));
    await until('the error', () => errorsAbout('huge.png').some((m) => m.includes('over the limit')));
    await expect(store.head(keyOf('huge.png'))).rejects.toThrow(/Expected an object/);
  });

  const failures: ReadonlyArray<readonly [string, () => Promise<Buffer>, string, RegExp?]> = [
    ['empty.png', () => imageFixture('empty'), 'EMPTY_INPUT'],
    ['notes.jpg', () => imageFixture('textFile'), 'UNSUPPORTED_FORMAT'],
    ['cut.jpg', () => imageFixture('truncatedJpeg'), 'CORRUPT_IMAGE'],
    ['bomb.png', () => imageFixture('pngBomb'), 'TOO_MANY_PIXELS'],
    ['external.svg', () => imageFixture('svgExternalHref'), 'UNSUPPORTED_FORMAT'],
    ['document.png', () => imageFixture('pdf'), 'UNSUPPORTED_FORMAT'],
    ['damaged-scan.jpg', () => imageFixture('corruptScanJpeg'), 'CORRUPT_IMAGE', /damaged/],
    [
      'strip.png',
      () => imageFixture('pngOneColumn100Megapixels'),
      'UNUSUAL_DIMENSIONS',
      /1 × 100,000,000 pixels, longer than the limit of 100,000 pixels on a side/,
    ],
    [
      'just-over.png',
      () => imageFixture('pngJustOver100Megapixels'),
      'TOO_MANY_PIXELS',
      /\(100,010,000 pixels\), over the limit of 100,000,000 pixels/,
    ],
  ];
  for (const [name, bytes, code, message] of failures) {
    kind('inbox', `${name}: a failed record with ${code}, in words`, async () => {
      await drop(name, await bytes());
      const record = await described(keyOf(name));
      expect(record.status.fast.state).toBe('failed');
      expect(record.errors.fast?.code).toBe(code);
      expect(record.errors.fast?.message.length).toBeGreaterThan(20);
      if (message) expect(record.errors.fast?.message).toMatch(message);
    });
  }
});

describe('afterwards', () => {
  it('tried at least 100 kinds of bad input, and the stack still describes a good image', async () => {
    expect(total()).toBeGreaterThanOrEqual(100);
    await store.putBytes('images/still-working.png', red);
    expect((await described('images/still-working.png')).caption).toBe('a red square');
  });
});
