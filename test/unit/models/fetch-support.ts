import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRequest {
  readonly method: string;
  readonly path: string;
}

/**
 * A fake Hugging Face hub on 127.0.0.1: serves `/<id>/resolve/<revision>/<file>` for the files it
 * holds, answers 404 for anything else, and — like the real hub for LFS files — redirects `.onnx`
 * files to a CDN path, the redirect carrying `x-linked-size` and the SHA-256 in `x-linked-etag`
 * (`corruptCdn` flips the CDN's bytes). Records every request.
 */
export async function startFakeHub(
  repos: Record<string, { revision: string; files: Record<string, Uint8Array> }>,
  options: { corruptCdn?: boolean } = {},
) {
  const requests: HubRequest[] = [];
  const blobs = new Map<string, Uint8Array>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://hub').pathname);
    requests.push({ method: req.method ?? 'GET', path });
    const send = (body: Uint8Array) => {
      res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    const blob = cdn?.[1] ? blobs.get(cdn[1]) : undefined;
    if (blob) return send(options.corruptCdn ? blob.map((b) => b ^ 0xff) : blob);
    const match = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const repo = match?.[1] ? repos[match[1]] : undefined;
    const body = match?.[3] && repo && repo.revision === match[2] ? repo.files[match[3]] : undefined;
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('Entry not found');
    }
    if (path.endsWith('.onnx')) {
      const sha = createHash('sha256').update(body).digest('hex');
      blobs.set(sha, body);
      res.writeHead(302, {
        location: `/cdn/${sha}`,
        'x-linked-size': body.length,
        'x-linked-etag': `"${sha}"`,
      });
      return res.end();
    }
    send(body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    /** Requests other than the CDN hops, as "METHOD path". */
    resolved: () => requests.filter((r) => !r.path.startsWith('/cdn/')).map((r) => `${r.method} ${r.path}`),
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** A port nothing listens on: bind, note the port, close. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** A server that accepts connections and never answers (a black-holed network). */
export async function silentServer(): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const server = createServer(() => {
    // never respond
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
