import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';

/**
 * API Gateway HTTP API (payload v2) in front of a Lambda handler, on node:http: the local stack and
 * the integration tests run the very handler infra/ deploys. It builds the event API Gateway would
 * send (routeKey, rawPath, pathParameters, headers, body, requestContext.requestId…), calls the
 * handler and writes its result back. Like API Gateway it caps the body, answers unknown routes
 * with 404, hides a handler crash behind a plain 500, and adds CORS headers only for listed origins.
 */

export type HttpApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyResultV2> | APIGatewayProxyResultV2;

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface HttpApiAdapterOptions {
  /**
   * Route keys as in API Gateway (`'POST /uploads'`, `'GET /uploads/{id}'`, `{name+}` greedy).
   * Absent: every request goes to the handler as the `$default` route.
   */
  readonly routes?: readonly string[];
  /** Origins that get CORS headers (and preflight answers), e.g. the local web page. */
  readonly corsOrigins?: readonly string[];
  /** Largest request body; API Gateway's own limit is 10 MB. Default 1 MB. */
  readonly maxBodyBytes?: number;
  /** Reported as the Lambda function name in the context. */
  readonly functionName?: string;
  /** Called with a handler crash (the client only sees a 500). */
  readonly onError?: (error: unknown, requestId: string) => void;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const TEXT_TYPES = /^(application\/(json|x-www-form-urlencoded|xml|[\w.+-]+\+json)|text\/)/i;

interface MatchedRoute {
  readonly routeKey: string;
  readonly pathParameters?: Record<string, string>;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Match `METHOD /a/{id}` (one segment) or `/a/{rest+}` (the rest of the path) against a request. */
export function matchRoute(
  routes: readonly string[],
  method: string,
  path: string,
): MatchedRoute | undefined {
  const segments = path.split('/').slice(1);
  for (const routeKey of routes) {
    const [routeMethod = '', template = ''] = routeKey.split(' ');
    if (routeMethod !== 'ANY' && routeMethod !== method) continue;
    const parts = template.split('/').slice(1);
    const params: Record<string, string> = {};
    let matched = true;
    for (const [index, part] of parts.entries()) {
      const segment = segments[index];
      const greedy = /^\{(\w+)\+\}$/.exec(part);
      if (greedy?.[1] && index === parts.length - 1) {
        const rest = segments.slice(index).join('/');
        if (rest === '') matched = false;
        else params[greedy[1]] = decodeSegment(rest);
        break;
      }
      const param = /^\{(\w+)\}$/.exec(part);
      if (segment === undefined || segment === '') matched = false;
      else if (param?.[1]) params[param[1]] = decodeSegment(segment);
      else if (segment !== part) matched = false;
      if (!matched) break;
    }
    if (matched && !parts.some((part) => part.endsWith('+}')) && segments.length !== parts.length)
      matched = false;
    if (matched) return { routeKey, ...(Object.keys(params).length ? { pathParameters: params } : {}) };
  }
  return undefined;
}

/** The v2 event API Gateway would send for this request and body. */
export function toApiGatewayEvent(
  req: IncomingMessage,
  body: Buffer,
  route: MatchedRoute = { routeKey: '$default' },
  requestId: string = randomUUID(),
): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value;
  const isText = body.length === 0 || TEXT_TYPES.test(headers['content-type'] ?? '');
  const now = new Date();
  const method = (req.method ?? 'GET').toUpperCase();
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(headers.cookie ? { cookies: headers.cookie.split(/;\s*/) } : {}),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(route.pathParameters ? { pathParameters: route.pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0] ?? 'localhost',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: route.routeKey,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length ? { body: isText ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: !isText,
  };
}

function lambdaContext(functionName: string, requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Write a handler result as API Gateway does: a string or plain object becomes a 200 JSON body. */
export function sendResult(
  res: ServerResponse,
  result: APIGatewayProxyResultV2,
  extraHeaders: Record<string, string> = {},
): void {
  if (
    typeof result === 'string' ||
    typeof result !== 'object' ||
    result === null ||
    !('statusCode' in result)
  ) {
    const body = typeof result === 'string' ? result : JSON.stringify(result);
    res.writeHead(200, { 'content-type': 'application/json', ...extraHeaders });
    res.end(body);
    return;
  }
  const headers: Record<string, string | string[]> = { ...extraHeaders };
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  const body = result.body ?? '';
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(result.isBase64Encoded ? Buffer.from(body, 'base64') : body);
}

/**
 * What API Gateway itself answers before any Lambda runs (`{"message":"Not Found"}`), plus the API's
 * own error shape with a sentence for the person, so the page and scripts read every error one way.
 */
export const GATEWAY_ERRORS = {
  404: {
    message: 'Not Found',
    code: 'NOT_FOUND',
    sentence: 'There is no such address on this API: it has POST /uploads and GET /uploads/{id}.',
  },
  413: {
    message: 'Request Entity Too Large',
    code: 'INVALID_REQUEST',
    sentence:
      "The request is too large: POST /uploads takes only the file's name, type and size; the file itself goes to the returned upload form.",
  },
  500: {
    message: 'Internal Server Error',
    code: 'INTERNAL',
    sentence:
      'Something went wrong on our side: try again in a moment; if it keeps failing, report the request id.',
  },
} as const;

function sendPlain(
  res: ServerResponse,
  status: keyof typeof GATEWAY_ERRORS,
  headers: Record<string, string>,
  requestId?: string,
): void {
  const { message, code, sentence } = GATEWAY_ERRORS[status];
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(
    JSON.stringify({ message, error: { code, message: sentence, ...(requestId ? { requestId } : {}) } }),
  );
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function corsHeaders(origin: string | undefined, allowed: readonly string[]): Record<string, string> {
  if (!origin || !allowed.includes(origin)) return {};
  return { 'access-control-allow-origin': origin, vary: 'Origin' };
}

/** A node:http request listener that runs the handler behind API Gateway-like routing. */
export function toNodeHandler(handler: HttpApiHandler, options: HttpApiAdapterOptions = {}): NodeHandler {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const functionName = options.functionName ?? 'local-http-api';
  return async (req, res) => {
    const requestId = randomUUID();
    const method = (req.method ?? 'GET').toUpperCase();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const cors = corsHeaders(req.headers.origin, options.corsOrigins ?? []);
    const common = { 'apigw-requestid': requestId, ...cors };
    if (method === 'OPTIONS' && req.headers['access-control-request-method']) {
      // Preflight: answered by the gateway itself, never by the function.
      res.writeHead(204, {
        ...common,
        ...(Object.keys(cors).length
          ? {
              'access-control-allow-methods': 'GET,POST,OPTIONS',
              'access-control-allow-headers': 'content-type,authorization,x-amz-date,x-amz-security-token',
              'access-control-max-age': '600',
            }
          : {}),
      });
      res.end();
      return;
    }
    const route = options.routes ? matchRoute(options.routes, method, path) : { routeKey: '$default' };
    if (!route) {
      req.resume();
      sendPlain(res, 404, common);
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        req.resume();
        sendPlain(res, 413, common);
        return;
      }
      throw error;
    }
    let result: APIGatewayProxyResultV2;
    try {
      result = await handler(
        toApiGatewayEvent(req, body, route, requestId),
        lambdaContext(functionName, requestId),
      );
    } catch (error) {
      options.onError?.(error, requestId);
      sendPlain(res, 500, common, requestId);
      return;
    }
    sendResult(res, result, common);
  };
}

export interface HttpApiServer {
  readonly server: Server;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

/** Serve a handler on its own port (127.0.0.1 and a free port unless told otherwise). */
export async function startHttpApiServer(
  handler: HttpApiHandler,
  options: HttpApiAdapterOptions & { readonly host?: string; readonly port?: number } = {},
): Promise<HttpApiServer> {
  const host = options.host ?? '127.0.0.1';
  const listener = toNodeHandler(handler, options);
  const server = createServer((req, res) => {
    listener(req, res).catch((error: unknown) => {
      options.onError?.(error, 'adapter');
      if (!res.headersSent) sendPlain(res, 500, {});
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections?.();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
