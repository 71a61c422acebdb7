import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { S3Event } from 'aws-lambda';
import { buildApp } from 'fauxqs';
import S3rver from 's3rver';

/** Browsers upload with presigned POST from the web page's origin and read thumbnails. */
const CORS_XML = `<CORSConfiguration><CORSRule>
<AllowedOrigin>*</AllowedOrigin>
<AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedMethod>PUT</AllowedMethod>
<AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>
</CORSRule></CORSConfiguration>`;

export interface EmbeddedS3 {
  readonly endpoint: string;
  readonly port: number;
  /** One S3 event (one record) per object created, keys not URL-encoded (s3rver's quirk). */
  onEvent(listener: (event: S3Event) => void): void;
  close(): Promise<void>;
}

/**
 * s3rver on loopback: objects live on disk under `<dataDir>/s3` and survive a restart; the bucket
 * (with a permissive CORS rule for the web page) is created if missing.
 */
export async function startEmbeddedS3(options: {
  host: string;
  port: number;
  dataDir: string;
  bucket: string;
}): Promise<EmbeddedS3> {
  const directory = join(options.dataDir, 's3');
  await mkdir(directory, { recursive: true });
  const server = new S3rver({
    address: options.host,
    port: options.port,
    directory,
    silent: true,
    configureBuckets: [{ name: options.bucket, configs: [CORS_XML] }],
  });
  await server.configureBuckets();
  // Our own listener rather than s3rver's run(): its listen error (a port in use) is an unhandled
  // 'error' event that kills the process instead of a rejection we can explain.
  const http = createServer(server.callback());
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => resolve());
  });
  const address = http.address() as AddressInfo;
  const endpoint = `http://${options.host}:${address.port}`;
  return {
    endpoint,
    port: address.port,
    onEvent: (listener) => server.on('event', listener),
    close: async () => {
      server.removeAllListeners('event');
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
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
