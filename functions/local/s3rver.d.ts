// s3rver 3.7 ships no types: just what the local stack uses.
declare module 's3rver' {
  import type { EventEmitter } from 'node:events';
  import type { AddressInfo } from 'node:net';

  interface S3rverOptions {
    address?: string;
    port?: number;
    directory?: string;
    silent?: boolean;
    resetOnClose?: boolean;
    configureBuckets?: ReadonlyArray<{ name: string; configs?: ReadonlyArray<string | Buffer> }>;
  }

  export default class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    /** Creates the configured buckets (and their CORS rules) in the store. */
    configureBuckets(): Promise<void>;
    /**
     * Where objects live (replaceable: the controllers call `context.store`); `getMetadata` throws
     * ENOENT for a missing object, its `etag` is quoted.
     */
    store: { getMetadata(bucket: string, key: string): Promise<{ etag: string }> };
    /** Koa's context prototype: what every request's `ctx` inherits, the store among it. */
    readonly context: { store: unknown };
    /** Koa's request listener: s3rver is a Koa app. */
    callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
  }
}
