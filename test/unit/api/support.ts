import { createHmac } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  type ObjectHead,
  ObjectNotFoundError,
  type ObjectStore,
  parseStoredJson,
  type StoredJson,
  type StoredObject,
} from '#engine/ports.ts';
import type { ApiLogger } from '#engine/uploads/http-api.ts';

/** Factories for the upload API tests: events as API Gateway sends them, an in-memory bucket. */

export function postUploadsEvent(body: unknown): APIGatewayProxyEventV2 {
  return apiEvent({
    routeKey: 'POST /uploads',
    method: 'POST',
    rawPath: '/uploads',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export function getUploadEvent(id: string): APIGatewayProxyEventV2 {
  return apiEvent({
    routeKey: 'GET /uploads/{id}',
    method: 'GET',
    rawPath: `/uploads/${id}`,
    pathParameters: { id },
  });
}

export function apiEvent(options: {
  routeKey: string;
  method: string;
  rawPath: string;
  body?: string;
  pathParameters?: Record<string, string>;
  requestId?: string;
}): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: options.routeKey,
    rawPath: options.rawPath,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    ...(options.pathParameters ? { pathParameters: options.pathParameters } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: options.method,
        path: options.rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '192.0.2.1',
        userAgent: 'test',
      },
      requestId: options.requestId ?? 'req-1',
      routeKey: options.routeKey,
      stage: '$default',
      time: '25/Nov/2026:20:00:00 +0000',
      timeEpoch: Date.UTC(2026, 10, 25, 20),
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
    isBase64Encoded: false,
  };
}

export function bodyOf(result: APIGatewayProxyStructuredResultV2): Record<string, unknown> {
  return JSON.parse(result.body ?? 'null') as Record<string, unknown>;
}

export interface DecodedPolicy {
  expiration: string;
  conditions: unknown[];
}

export function decodePolicy(fields: Record<string, string>): DecodedPolicy {
  return JSON.parse(Buffer.from(fields.Policy ?? '', 'base64').toString('utf8')) as DecodedPolicy;
}

/** SigV4 for a POST policy, computed independently of the SDK: HMAC chain, then HMAC of the policy. */
export function expectedPostSignature(secret: string, date: string, region: string, policy: string): string {
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
  return createHmac('sha256', signingKey).update(policy).digest('hex');
}

export function silentLogger(): ApiLogger & { entries: { level: string; message: string; data: unknown }[] } {
  const entries: { level: string; message: string; data: unknown }[] = [];
  const log = (level: string) => (message: string, data: Record<string, unknown>) => {
    entries.push({ level, message, data });
  };
  return { entries, info: log('info'), warn: log('warn'), error: log('error') };
}

/** An in-memory bucket behind the ObjectStore port. */
export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, { bytes: Uint8Array; etag: string }>();
  readonly reads: string[] = [];

  put(key: string, bytes: Uint8Array | string, etag = `etag-${this.objects.size + 1}`): void {
    this.objects.set(key, { bytes: typeof bytes === 'string' ? Buffer.from(bytes) : bytes, etag });
  }

  putRecord(key: string, record: unknown): void {
    this.put(key, JSON.stringify(record));
  }

  async head(key: string): Promise<ObjectHead> {
    this.reads.push(`HEAD ${key}`);
    const object = this.objects.get(key);
    if (!object) throw new ObjectNotFoundError(key);
    return { key, etag: object.etag, size: object.bytes.length };
  }

  async get(key: string): Promise<StoredObject> {
    this.reads.push(`GET ${key}`);
    const object = this.objects.get(key);
    if (!object) throw new ObjectNotFoundError(key);
    return { key, etag: object.etag, size: object.bytes.length, bytes: object.bytes };
  }

  async getJson<T = unknown>(key: string): Promise<StoredJson<T> | undefined> {
    this.reads.push(`GET ${key}`);
    const object = this.objects.get(key);
    if (!object) return undefined;
    return parseStoredJson<T>(object);
  }

  async putJson(key: string, value: unknown): Promise<{ etag: string }> {
    this.putRecord(key, value);
    return { etag: this.objects.get(key)?.etag ?? '' };
  }

  async putBytes(key: string, bytes: Uint8Array): Promise<{ etag: string }> {
    this.put(key, bytes);
    return { etag: this.objects.get(key)?.etag ?? '' };
  }

  async *list(prefix: string) {
    for (const [key, object] of [...this.objects].sort(([a], [b]) => a.localeCompare(b))) {
      if (key.startsWith(prefix)) yield { key, etag: object.etag, size: object.bytes.length };
    }
  }
}
