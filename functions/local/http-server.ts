import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { type ObjectStore, packagePath } from '#engine/index.ts';
import { type HybridSearch, parseSearchQuery, SearchQueryError } from '#engine/search/index.ts';
import type { RecordLister } from './records.ts';
import { decodePath, loopbackOrigins, refusalFor, SAME_ORIGIN_HEADERS } from './request-guard.ts';

const WEB_DIR = `${packagePath('functions', 'local', 'web')}/`;

/** The page's files, by URL path: a fixed list, so no path from a request ever reaches the disk. */
const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/messages.js': { file: 'messages.js', type: 'text/javascript; charset=utf-8' },
  '/styles.css': { file: 'styles.css', type: 'text/css; charset=utf-8' },
};

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export interface LocalHttpOptions {
  readonly host: string;
  readonly port: number;
  /** The upload API handler behind the HTTP adapter: POST /uploads, GET /uploads/{id}. */
  readonly uploadApi: NodeHandler;
  readonly records: RecordLister;
  /** GET /search runs here (words, by meaning too, or `similar=<key>`). */
  readonly search: Pick<HybridSearch, 'search'>;
  /** The bucket, behind the object store port (thumbnails). */
  readonly store: ObjectStore;
  readonly inputPrefix: string;
  /** `GET /models/status`: the model state the page shows before anything is uploaded. */
  readonly models?: { view(): Promise<unknown> };
  readonly onError?: (error: unknown, req: IncomingMessage) => void;
}

/**
 * The thumbnail route of a key under the input prefix, as one encoded segment: a browser would
 * resolve a `..` (or `%2E%2E`) segment of a key before sending the request.
 */
export function thumbnailPath(relative: string): string {
  return `/thumbnails/${encodeURIComponent(relative)}`;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/**
 * The laptop's web front: the static page, the upload API (the Lambda handler behind the HTTP
 * adapter), and two local-only routes the page uses when present: `GET /records`
 * (list for search and colour filter) and `GET /thumbnails/<key>` (a 480 px WebP of an upload).
 */
export async function startLocalHttp(options: LocalHttpOptions): Promise<{ server: Server; url: string }> {
  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://local');
    const path = url.pathname;
    if (path === '/uploads' || path.startsWith('/uploads/')) return options.uploadApi(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return sendJson(res, 405, { message: 'Method not allowed' });
    if (path === '/records') return sendJson(res, 200, { records: await options.records.list() });
    if (path === '/search') return search(res, url.searchParams);
    if (path === '/healthz') return sendJson(res, 200, { ok: true });
    if (path === '/models/status' && options.models) return sendJson(res, 200, await options.models.view());
    if (path.startsWith('/thumbnails/'))
      return thumbnail(res, decodePath(path.slice('/thumbnails/'.length))?.join('/') ?? '');
    const file = STATIC_FILES[path];
    if (!file) return sendJson(res, 404, { message: `Not found: ${path}` });
    const body = await readFile(`${WEB_DIR}${file.file}`);
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  /** The shared result shape, plus the local thumbnail route (the page has no other way to it). */
  const search = async (res: ServerResponse, params: URLSearchParams) => {
    let response: Awaited<ReturnType<HybridSearch['search']>>;
    try {
      response = await options.search.search(parseSearchQuery(params));
    } catch (error) {
      if (!(error instanceof SearchQueryError)) throw error;
      // The upload API's error shape, so the page reads both the same way.
      return sendJson(res, 400, {
        error: { code: error.code, message: error.message, parameter: error.parameter },
      });
    }
    const results = response.results.map((hit) => ({
      ...hit,
      ...(hit.key.startsWith(options.inputPrefix)
        ? {
            imageUrl: thumbnailPath(hit.key.slice(options.inputPrefix.length)),
          }
        : {}),
    }));
    return sendJson(res, 200, { ...response, results });
  };

  const thumbnail = async (res: ServerResponse, relative: string) => {
    if (relative === '') return sendJson(res, 400, { message: 'Expected a key after /thumbnails/' });
    let bytes: Uint8Array;
    try {
      bytes = (await options.store.get(`${options.inputPrefix}${relative}`)).bytes;
    } catch {
      return sendJson(res, 404, { message: 'No such image' });
    }
    try {
      // Untrusted bytes: the same caps as intake (pixels, truncated data), first frame only.
      const webp = await sharp(bytes, { failOn: 'error', limitInputPixels: 100_000_000 })
        .rotate()
        .resize(480, 480, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 75 })
        .toBuffer();
      res.writeHead(200, { 'content-type': 'image/webp', 'cache-control': 'max-age=3600' });
      res.end(webp);
    } catch {
      sendJson(res, 415, { message: 'Not an image we can preview' });
    }
  };

  let ownPort = 0;
  const server = createServer((req, res) => {
    // Only the page itself, on loopback: no other site, no rebound host name (request-guard.ts).
    for (const [name, value] of Object.entries(SAME_ORIGIN_HEADERS)) res.setHeader(name, value);
    const refused = refusalFor(req, {
      port: ownPort,
      origins: loopbackOrigins(ownPort),
      visitable: (path) => path in STATIC_FILES,
    });
    if (refused) {
      req.resume();
      return sendJson(res, refused.status, { error: { code: refused.code, message: refused.message } });
    }
    Promise.resolve(route(req, res)).catch((error) => {
      options.onError?.(error, req);
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal error' });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  ownPort = port;
  return { server, url: `http://${options.host}:${port}` };
}
