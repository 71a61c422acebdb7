import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { S3Event } from 'aws-lambda';
import { buildApp } from 'fauxqs';
import S3rver from 's3rver';
import { type CorruptObjectFile, ObjectFiles } from './object-files.ts';
import {
  corsHeadersFor,
  decodePath,
  type GuardRules,
  loopbackOrigins,
  refusalFor,
  SAME_ORIGIN_HEADERS,
} from './request-guard.ts';

/** S3's limit on a key: 1,024 bytes of UTF-8. */
const MAX_KEY_BYTES = 1024;

export interface EmbeddedS3 {
  readonly endpoint: string;
  readonly port: number;
  /** One S3 event (one record) per object created, keys not URL-encoded (s3rver's quirk). */
  onEvent(listener: (event: S3Event) => void): void;
  /** Let the page served on this port call the endpoint from a browser (CORS); no other origin may. */
  allowPage(port: number): void;
  close(): Promise<void>;
}

/**
 * s3rver's S3 protocol on loopback over our own object files (object-files.ts: keys hashed to file
 * names, atomic writes): objects live on disk under `<dataDir>/objects` and survive a restart; the
 * bucket is created if missing. Every request passes the guard first (request-guard.ts): loopback
 * Host, no foreign Origin, valid percent-encoding, keys of at most 1,024 bytes.
 */
export async function startEmbeddedS3(options: {
  host: string;
  port: number;
  dataDir: string;
  bucket: string;
  /** A stored object file that could not be read (kept aside, reads as absent). */
  onCorrupt?: (corrupt: CorruptObjectFile) => void;
}): Promise<EmbeddedS3> {
  const directory = join(options.dataDir, 'objects');
  await mkdir(directory, { recursive: true });
  const server = new S3rver({
    address: options.host,
    port: options.port,
    directory,
    silent: true,
    configureBuckets: [{ name: options.bucket }],
  });
  const files = new ObjectFiles(directory, options.onCorrupt);
  server.store = files;
  server.context.store = files;
  await server.configureBuckets();
  let pageOrigins: string[] = [];
  let ownPort = 0;
  // Our own listener rather than s3rver's run(): its listen error (a port in use) is an unhandled
  // 'error' event that kills the process instead of a rejection we can explain.
  const http = createServer(
    withRequestGuard(
      () => ({ port: ownPort, origins: pageOrigins }),
      withMultiDeleteEvents(
        (event) => server.emit('event', event),
        withConditionalPuts(files, server.callback()),
      ),
    ),
  );
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => resolve());
  });
  const address = http.address() as AddressInfo;
  ownPort = address.port;
  const endpoint = `http://${options.host}:${address.port}`;
  return {
    endpoint,
    port: address.port,
    onEvent: (listener) => server.on('event', listener),
    allowPage: (port) => {
      pageOrigins = loopbackOrigins(port);
    },
    close: async () => {
      server.removeAllListeners('event');
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

function s3Error(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
): void {
  // The body is not wanted; read it so the connection can be reused.
  req.resume();
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`,
  );
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The bucket and the decoded key of a path-style request (`/bucket/key`), after the guard. */
function bucketAndKey(req: IncomingMessage): { bucket: string; key: string } {
  // The raw path: URL parsing would resolve `..` and `%2E%2E` segments, which S3 keeps in keys.
  const [bucket = '', ...rest] = decodePath((req.url ?? '/').split('?')[0]?.slice(1) ?? '') ?? [];
  return { bucket, key: rest.join('/') };
}

/**
 * `/bucket/images//x` → `/bucket/images%2F/x`: the same key once decoded, in a path s3rver's router
 * matches (it finds no key in an empty segment and answers 404). S3 keeps empty segments in keys.
 */
function withEmptySegmentsEncoded(url: string): string {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  const slash = path.indexOf('/', 1);
  if (slash === -1) return url;
  const key = path.slice(slash + 1).replace(/^\/|\/(?=\/)/g, '%2F');
  return `${path.slice(0, slash + 1)}${key}${query === -1 ? '' : url.slice(query)}`;
}

/**
 * The S3 endpoint's guard (see request-guard.ts), its CORS answers for the page (preflights
 * included; s3rver's own CORS support is not used, so no bucket rule can open it wider), and S3's
 * key length limit.
 */
export function withRequestGuard(rules: () => GuardRules, next: Listener): Listener {
  return (req, res) => {
    const current = rules();
    for (const [name, value] of Object.entries(SAME_ORIGIN_HEADERS)) res.setHeader(name, value);
    const refused = refusalFor(req, current);
    if (refused) return s3Error(req, res, refused.status, refused.code, refused.message);
    if (Buffer.byteLength(bucketAndKey(req).key, 'utf8') > MAX_KEY_BYTES) {
      return s3Error(req, res, 400, 'KeyTooLongError', 'Your key is too long');
    }
    const cors = corsHeadersFor(req, current);
    if (req.method === 'OPTIONS') {
      if (!cors['access-control-allow-origin']) {
        return s3Error(
          req,
          res,
          403,
          'AccessForbidden',
          'CORSResponse: this origin may not call the endpoint',
        );
      }
      req.resume();
      res.writeHead(200, {
        ...cors,
        'access-control-allow-methods': 'GET, HEAD, POST, PUT',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    for (const [name, value] of Object.entries(cors)) res.setHeader(name, value);
    req.url = withEmptySegmentsEncoded(req.url ?? '/');
    next(req, res);
  };
}

/**
 * s3rver ignores If-None-Match and If-Match on PutObject; the engine relies on them (the first
 * sidecar write wins, a read-modify-write lands only on the version it read). Enforced in front of
 * s3rver as S3 does: conditional PUTs of one key are serialised and checked against the stored
 * ETag — 412 PreconditionFailed, or 404 NoSuchKey for If-Match on a missing object.
 */
export function withConditionalPuts(store: S3rver['store'], next: Listener): Listener {
  const queues = new Map<string, Promise<void>>();
  return (req, res) => {
    const ifNoneMatch = req.headers['if-none-match'];
    const ifMatch = req.headers['if-match'];
    const { bucket, key } = bucketAndKey(req);
    if (
      req.method !== 'PUT' ||
      (!ifNoneMatch && !ifMatch) ||
      !bucket ||
      !key ||
      (req.url ?? '').includes('uploadId')
    ) {
      next(req, res);
      return;
    }
    const id = `${bucket}/${key}`;
    const previous = queues.get(id) ?? Promise.resolve();
    const turn = previous.then(async () => {
      const done = new Promise<void>((resolve) => res.once('close', () => resolve()));
      const etag = await store.getMetadata(bucket, key).then(
        (metadata) => metadata.etag.replaceAll('"', ''),
        () => undefined,
      );
      const preconditionFailed = () =>
        s3Error(
          req,
          res,
          412,
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
        );
      if (ifNoneMatch === '*' && etag !== undefined) {
        preconditionFailed();
      } else if (ifMatch && etag === undefined) {
        s3Error(req, res, 404, 'NoSuchKey', 'The specified key does not exist.');
      } else if (ifMatch && ifMatch.replaceAll('"', '') !== etag) {
        preconditionFailed();
      } else {
        next(req, res);
      }
      await done;
    });
    const settled = turn.catch((error: unknown) => {
      if (!res.headersSent) s3Error(req, res, 500, 'InternalError', String(error));
    });
    queues.set(id, settled);
    void settled.then(() => {
      if (queues.get(id) === settled) queues.delete(id);
    });
  };
}

/** XML text → text (the entities s3rver's XML builder writes). */
function xmlText(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (entity[0] !== '#') return named[entity.toLowerCase()] ?? '';
    const cp =
      entity[1] === 'x' || entity[1] === 'X' ? Number.parseInt(entity.slice(2), 16) : Number(entity.slice(1));
    return String.fromCodePoint(cp);
  });
}

/**
 * s3rver's DeleteObjects (POST /bucket?delete, what `aws s3 rm --recursive` sends) deletes the keys
 * but emits no event, unlike DeleteObject; S3 sends an ObjectRemoved:Delete notification per key.
 * Emitted here, once per key the response reports deleted, after the response (when the objects
 * are gone), in s3rver's event shape.
 */
export function withMultiDeleteEvents(emit: (event: S3Event) => void, next: Listener): Listener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://s3');
    const [bucket, ...rest] = url.pathname.slice(1).split('/');
    if (req.method !== 'POST' || !url.searchParams.has('delete') || !bucket || rest.join('/') !== '') {
      next(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    const keep = (chunk: unknown, encoding?: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      chunks.push(
        typeof chunk === 'string'
          ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
          : Buffer.from(chunk as Uint8Array),
      );
    };
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.write = ((...args: unknown[]) => {
      keep(args[0], args[1]);
      return write(...args);
    }) as ServerResponse['write'];
    res.end = ((...args: unknown[]) => {
      keep(args[0], args[1]);
      return end(...args);
    }) as ServerResponse['end'];
    res.once('finish', () => {
      if (res.statusCode !== 200) return;
      const xml = Buffer.concat(chunks).toString('utf8');
      for (const deleted of xml.matchAll(/<Deleted>\s*<Key>([^<]*)<\/Key>/g)) {
        emit(removedEvent(bucket, xmlText(deleted[1] ?? ''), req));
      }
    });
    next(req, res);
  };
}

/**
 * s3rver's own event model, the one its DeleteObject emits (lib/models/event.js; the package has no
 * exports map, so the file is reachable), so a multi-delete event has the very same shape.
 */
const S3rverEvent = createRequire(import.meta.url)('s3rver/lib/models/event') as new (
  eventData: {
    readonly bucket: string;
    readonly eventType: 'Delete';
    readonly S3Item: { readonly key: string };
  },
  request: { readonly reqHeaders: IncomingMessage['headers']; readonly sourceIp: string },
) => S3Event;

/** The notification s3rver emits for a DeleteObject, for one key. */
function removedEvent(bucket: string, key: string, req: IncomingMessage): S3Event {
  return new S3rverEvent(
    { bucket, eventType: 'Delete', S3Item: { key } },
    {
      reqHeaders: { ...req.headers, host: req.headers.host ?? '' },
      sourceIp: req.socket.remoteAddress ?? '',
    },
  );
}

export interface EmbeddedSqs {
  readonly endpoint: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * fauxqs's app listening on loopback only (its `startFauxqs` binds 0.0.0.0). In memory: queued
 * messages do not survive a restart; the start-up re-queue scan rebuilds them from the sidecars.
 */
export async function startEmbeddedSqs(options: { host: string; port: number }): Promise<EmbeddedSqs> {
  const app = buildApp({ logger: false });
  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address() as AddressInfo;
  return {
    endpoint: `http://${options.host}:${address.port}`,
    port: address.port,
    close: async () => {
      // Long-polling receives would otherwise hold the close for up to 20 s.
      app.server.closeAllConnections();
      await app.close();
    },
  };
}
