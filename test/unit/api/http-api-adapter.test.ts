import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { keyLayout } from '#engine/pipeline/key-layout.ts';
import {
  createUploadApiHandler,
  UPLOAD_API_ROUTES,
  UPLOAD_NOT_FOUND_MESSAGE,
} from '#engine/uploads/http-api.ts';
import { uploadSettings } from '#engine/uploads/settings.ts';
import {
  GATEWAY_ERRORS,
  type HttpApiHandler,
  type HttpApiServer,
  matchRoute,
  startHttpApiServer,
} from '../../../functions/local/http-api-adapter.ts';
import { MemoryObjectStore, silentLogger } from './support.ts';

const ROUTES = [...UPLOAD_API_ROUTES];
let server: HttpApiServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A handler that records what it was called with and echoes a fixed answer. */
function recordingHandler(answer: Awaited<ReturnType<HttpApiHandler>> = { statusCode: 204 }) {
  const calls: { event: APIGatewayProxyEventV2; context: Context }[] = [];
  const handler: HttpApiHandler = async (event, context) => {
    calls.push({ event, context });
    return answer;
  };
  return { calls, handler };
}

describe('matchRoute', () => {
  it('matches methods, literal segments, {param} and greedy {param+}', () => {
    const routes = ['POST /uploads', 'GET /uploads/{id}', 'ANY /files/{path+}'];
    expect(matchRoute(routes, 'POST', '/uploads')).toEqual({ routeKey: 'POST /uploads' });
    expect(matchRoute(routes, 'GET', '/uploads/a%20b')).toEqual({
      routeKey: 'GET /uploads/{id}',
      pathParameters: { id: 'a b' },
    });
    expect(matchRoute(routes, 'PUT', '/files/a/b.png')).toEqual({
      routeKey: 'ANY /files/{path+}',
      pathParameters: { path: 'a/b.png' },
    });
    expect(matchRoute(routes, 'GET', '/uploads')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/uploads/a/b')).toBeUndefined();
    expect(matchRoute(routes, 'DELETE', '/uploads/a')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/files/')).toBeUndefined();
  });
});

describe('HTTP API adapter on loopback', () => {
  it('turns a request into the v2 event API Gateway sends, with one request id throughout', async () => {
    // Prepare
    const { calls, handler } = recordingHandler({
      statusCode: 201,
      headers: { 'Content-Type': 'application/json' },
      body: '{"ok":true}',
    });
    server = await startHttpApiServer(handler, { routes: ROUTES, functionName: 'upload-api' });

    // Act
    const response = await fetch(`${server.url}/uploads?x=1&x=2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Custom': 'yes' },
      body: '{"filename":"a.png"}',
    });

    // Assess
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ ok: true });
    const requestId = response.headers.get('apigw-requestid');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls).toHaveLength(1);
    const { event, context } = calls[0] ?? ({} as never);
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /uploads',
      rawPath: '/uploads',
      rawQueryString: 'x=1&x=2',
      queryStringParameters: { x: '1,2' },
      body: '{"filename":"a.png"}',
      isBase64Encoded: false,
      headers: { 'content-type': 'application/json', 'x-custom': 'yes' },
      requestContext: {
        requestId,
        routeKey: 'POST /uploads',
        stage: '$default',
        http: { method: 'POST', path: '/uploads' },
      },
    });
    expect(event.pathParameters).toBeUndefined();
    expect(context).toMatchObject({ awsRequestId: requestId, functionName: 'upload-api' });
  });

  it('passes a binary body base64-encoded, as API Gateway does', async () => {
    const { calls, handler } = recordingHandler();
    server = await startHttpApiServer(handler, { routes: ROUTES });

    await fetch(`${server.url}/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array([0, 255, 1]),
    });

    expect(calls[0]?.event).toMatchObject({ body: 'AP8B', isBase64Encoded: true });
  });

  it('decodes path parameters, and the upload API answers 404 to a traversal attempt', async () => {
    // Prepare
    const store = new MemoryObjectStore();
    const api = createUploadApiHandler({
      settings: uploadSettings({ bucket: 'b', layout: keyLayout(), maxBytes: 100 }),
      store,
      signer: { presignPost: async () => ({ url: 'unused', fields: {} }) },
      logger: silentLogger(),
    });
    server = await startHttpApiServer(api, { routes: ROUTES });

    // Act
    const response = await fetch(`${server.url}/uploads/..%2F..%2Fdescriptions%2Fsecret.json`);

    // Assess
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: { code: 'UPLOAD_NOT_FOUND', message: UPLOAD_NOT_FOUND_MESSAGE },
    });
    expect(store.reads).toEqual([]);
  });

  it('answers 404 for an unknown route without invoking the handler', async () => {
    const { calls, handler } = recordingHandler();
    server = await startHttpApiServer(handler, { routes: ROUTES });

    const response = await fetch(`${server.url}/descriptions/x.json`);

    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      message: 'Not Found',
      error: { code: 'NOT_FOUND', message: GATEWAY_ERRORS[404].sentence },
    });
    expect(calls).toHaveLength(0);
  });

  it('answers 413 for a body over the cap without invoking the handler', async () => {
    const { calls, handler } = recordingHandler();
    server = await startHttpApiServer(handler, { routes: ROUTES, maxBodyBytes: 10 });

    const response = await fetch(`${server.url}/uploads`, { method: 'POST', body: 'x'.repeat(11) });

    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/too large/);
    expect(calls).toHaveLength(0);
  });

  it('hides a handler crash behind a plain 500 and reports it with the request id', async () => {
    // Prepare
    const reported: [unknown, string][] = [];
    server = await startHttpApiServer(
      async () => {
        throw new Error('secret stack detail');
      },
      { onError: (error, requestId) => reported.push([error, requestId]) },
    );

    // Act
    const response = await fetch(`${server.url}/anything`);

    // Assess
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).not.toContain('secret');
    expect(JSON.parse(text)).toEqual({
      message: 'Internal Server Error',
      error: { code: 'INTERNAL', message: GATEWAY_ERRORS[500].sentence, requestId: expect.any(String) },
    });
    expect(reported[0]?.[1]).toBe(response.headers.get('apigw-requestid'));
  });

  it('returns a plain object result as a 200 JSON body (payload v2 shorthand)', async () => {
    server = await startHttpApiServer(async () => ({ hello: 'world' }) as never);

    const response = await fetch(`${server.url}/`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ hello: 'world' });
  });

  it('adds CORS headers and answers preflight only for the configured origins', async () => {
    // Prepare
    const { calls, handler } = recordingHandler({ statusCode: 200, body: '{}' });
    server = await startHttpApiServer(handler, { routes: ROUTES, corsOrigins: ['http://127.0.0.1:8080'] });
    const preflight = (origin: string) =>
      fetch(`${server?.url}/uploads`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });

    // Act
    const allowed = await preflight('http://127.0.0.1:8080');
    const other = await preflight('https://evil.example');
    const get = await fetch(`${server.url}/uploads/x`, { headers: { origin: 'http://127.0.0.1:8080' } });

    // Assess
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8080');
    expect(allowed.headers.get('access-control-allow-methods')).toBe('GET,POST,OPTIONS');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(get.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8080');
    expect(calls).toHaveLength(1);
  });
});
