import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DescribeError, expected } from '../errors.ts';
import { type ObjectStore, type UploadSigner, VectorIndexBusyError } from '../ports.ts';
import {
  SEARCH_FAILED_MESSAGE,
  SEARCH_RETRY_AFTER_SECONDS,
  SearchBusyError,
  SearchFailedError,
  SearchScanLimitError,
  SearchTimeoutError,
} from '../search/athena-engine.ts';
import type { SearchResponse } from '../search/document.ts';
import { parseSearchQuery, type SearchQuery, SearchQueryError } from '../search/query.ts';
import { createUpload } from './create-upload.ts';
import { UploadNotFoundError, UploadRequestError } from './errors.ts';
import type { UploadSettings } from './settings.ts';
import { getUploadStatus } from './upload-status.ts';

/** The part of Powertools' Logger the API uses (so tests and the local stack can pass their own). */
export interface ApiLogger {
  info(message: string, data: Record<string, unknown>): void;
  warn(message: string, data: Record<string, unknown>): void;
  error(message: string, data: Record<string, unknown>): void;
}

export interface UploadApiDeps {
  readonly settings: UploadSettings;
  readonly store: ObjectStore;
  readonly signer: UploadSigner;
  readonly logger: ApiLogger;
  readonly now?: () => Date;
  /** The search engine behind `GET /search` (Athena in AWS); absent: the route is a 404. */
  readonly search?: (query: SearchQuery) => Promise<SearchResponse>;
}

export type UploadApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** The routes infra/ declares on the HTTP API (and the local adapter mirrors). */
export const UPLOAD_API_ROUTES = Object.freeze(['POST /uploads', 'GET /uploads/{id}'] as const);
/** Declared only where a search engine is wired (the Athena search in AWS). */
export const SEARCH_API_ROUTE = 'GET /search' as const;

/** Request bodies are a few hundred bytes; anything far larger is not an upload request. */
export const MAX_REQUEST_BODY_BYTES = 16 * 1024;

const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { ...HEADERS }, body: JSON.stringify(body) };
}

/** `message` for the person, `detail` (the exact rule broken) for programs, `requestId` for the log. */
function errorBody(code: string, message: string, requestId?: string, detail?: string) {
  return {
    error: {
      code,
      message,
      ...(detail === undefined ? {} : { detail }),
      ...(requestId ? { requestId } : {}),
    },
  };
}

const NOT_FOUND = (message: string) => json(404, errorBody('NOT_FOUND', message));

/** A malformed id names no upload; nothing about other uploads is revealed. */
export const UPLOAD_NOT_FOUND_MESSAGE =
  'No upload has this id: use the id POST /uploads returned, or upload the file again.';
/** Internals stay in the log; the request id finds the line. */
export const INTERNAL_ERROR_MESSAGE =
  'Something went wrong on our side: try again in a moment; if it keeps failing, report the request id.';

type Route =
  | { kind: 'create' }
  | { kind: 'status'; id: string | undefined }
  | { kind: 'search' }
  | { kind: 'none' };

/**
 * The route of an event: by routeKey when API Gateway matched one of ours, else (a `$default`
 * route) by method and path, ignoring a stage prefix.
 */
function routeOf(event: APIGatewayProxyEventV2): Route {
  if (event.routeKey === 'POST /uploads') return { kind: 'create' };
  if (event.routeKey === 'GET /uploads/{id}') return { kind: 'status', id: event.pathParameters?.id };
  if (event.routeKey === SEARCH_API_ROUTE) return { kind: 'search' };
  const method = event.requestContext?.http?.method ?? '';
  if (method === 'GET' && /(?:^|\/)search\/?$/.test(event.rawPath ?? '')) return { kind: 'search' };
  const match = /(?:^|\/)uploads(?:\/([^/]*))?\/?$/.exec(event.rawPath ?? '');
  if (!match) return { kind: 'none' };
  if (method === 'POST' && match[1] === undefined) return { kind: 'create' };
  if (method === 'GET' && match[1] !== undefined) return { kind: 'status', id: safeDecode(match[1]) };
  return { kind: 'none' };
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function parseBody(event: APIGatewayProxyEventV2): unknown {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > MAX_REQUEST_BODY_BYTES) {
    // A Buffer reads as "<n> bytes" in the message, never as the body itself.
    throw new UploadRequestError(
      'The upload request is too large: send only "filename", "contentType" and "size" (the file itself goes to the returned form).',
      { detail: expected(`a JSON body of at most ${MAX_REQUEST_BODY_BYTES} bytes`, 'request body', bytes) },
    );
  }
  if (text.trim() === '') {
    throw new UploadRequestError(
      'The upload request is empty: send a JSON object with "filename", "contentType" and "size".',
      { detail: expected('a JSON object with filename, contentType and size', 'request body', undefined) },
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UploadRequestError(
      'The upload request is not valid JSON: send a JSON object with "filename", "contentType" and "size".',
      { detail: expected('valid JSON', 'request body', text) },
    );
  }
}

/**
 * The upload API as an API Gateway HTTP API (payload v2) handler:
 * - `POST /uploads` → 201 `{ id, url, fields, expiresAt }`;
 * - `GET /uploads/{id}` → 200 `{ id, status, record? }`;
 * - bad JSON or a broken rule → 400 `{ error: { code, message } }`;
 * - unknown route, malformed id → 404;
 * - anything else → 500 `{ error: { code: 'INTERNAL', message: 'Internal error', requestId } }`, the
 *   details only in the log.
 */
export function createUploadApiHandler(deps: UploadApiDeps): UploadApiHandler {
  const { settings, store, signer, logger } = deps;
  return async (event) => {
    const requestId = event.requestContext?.requestId ?? 'unknown';
    const route = routeOf(event);
    try {
      switch (route.kind) {
        case 'create': {
          const ticket = await createUpload(parseBody(event), { settings, signer, now: deps.now });
          logger.info('upload created', { requestId, id: ticket.id, expiresAt: ticket.expiresAt });
          return json(201, ticket);
        }
        case 'status': {
          const view = await getUploadStatus(route.id, { store, layout: settings.layout });
          return json(200, view);
        }
        case 'search': {
          if (!deps.search) return NOT_FOUND('Search is not enabled on this API');
          return await answerSearch(event, deps.search, logger, requestId);
        }
        default:
          return NOT_FOUND(
            `There is no ${`${event.requestContext?.http?.method ?? ''} ${event.rawPath ?? ''}`.trim()} here: the API has POST /uploads and GET /uploads/{id}.`,
          );
      }
    } catch (error) {
      if (error instanceof UploadRequestError) {
        logger.info('upload request rejected', { requestId, code: error.code, reason: error.message });
        return json(400, errorBody(error.code, error.message, undefined, error.detail));
      }
      if (error instanceof UploadNotFoundError)
        return json(404, errorBody(error.code, UPLOAD_NOT_FOUND_MESSAGE));
      const searchError = searchErrorResponse(error, requestId, logger);
      if (searchError) return searchError;
      return internalError(logger, 'upload api failed', error, requestId, { route: route.kind });
    }
  };
}

/** A 500 for the client (request id only); the error itself goes to the log. */
function internalError(
  logger: ApiLogger,
  message: string,
  error: unknown,
  requestId: string,
  data: Record<string, unknown> = {},
): APIGatewayProxyStructuredResultV2 {
  logger.error(message, {
    requestId,
    ...data,
    code: error instanceof DescribeError ? error.code : 'INTERNAL',
    error:
      error instanceof Error
        ? { name: error.name, message: error.message, stack: error.stack }
        : String(error),
  });
  return json(500, errorBody('INTERNAL', INTERNAL_ERROR_MESSAGE, requestId));
}

/** `GET /search`: parse the query string, run the engine, answer its JSON. */
async function answerSearch(
  event: APIGatewayProxyEventV2,
  search: (query: SearchQuery) => Promise<SearchResponse>,
  logger: ApiLogger,
  requestId: string,
): Promise<APIGatewayProxyStructuredResultV2> {
  // rawQueryString keeps repeated names apart (queryStringParameters joins them with commas).
  const query = parseSearchQuery(new URLSearchParams(event.rawQueryString ?? ''));
  const response = await search(query);
  logger.info('search answered', {
    requestId,
    terms: query.terms.length,
    results: response.results.length,
    ...('mode' in response ? { mode: response.mode } : {}),
  });
  return json(200, response);
}

/** The response for an error of a search (400, 502-504), or undefined when it is not one. */
function searchErrorResponse(
  error: unknown,
  requestId: string,
  logger: ApiLogger,
): APIGatewayProxyStructuredResultV2 | undefined {
  if (error instanceof SearchQueryError) {
    logger.info('search rejected', { requestId, parameter: error.parameter, reason: error.message });
    return json(400, { error: { code: error.code, message: error.message, parameter: error.parameter } });
  }
  const searchStatus =
    error instanceof SearchTimeoutError
      ? 504
      : error instanceof SearchScanLimitError ||
          error instanceof SearchBusyError ||
          error instanceof VectorIndexBusyError
        ? 503
        : error instanceof SearchFailedError
          ? 502
          : undefined;
  if (searchStatus && error instanceof DescribeError) {
    logger.warn('search failed', {
      requestId,
      code: error.code,
      status: searchStatus,
      message: error.message,
      ...(error.detail ? { detail: error.detail } : {}),
    });
    // Athena's reason for a failed query may quote SQL, table names and S3 paths: logged above,
    // a fixed sentence for the client. Our own messages (timeout, scan limit, busy) are safe.
    const message = error instanceof SearchFailedError ? SEARCH_FAILED_MESSAGE : error.message;
    // S3 Vectors' own reason (in detail) may name the bucket and index: the log keeps it.
    const detail = error instanceof VectorIndexBusyError ? undefined : error.detail;
    const response = json(searchStatus, errorBody(error.code, message, requestId, detail));
    if (error instanceof SearchBusyError || error instanceof VectorIndexBusyError) {
      response.headers = { ...response.headers, 'retry-after': String(SEARCH_RETRY_AFTER_SECONDS) };
    }
    return response;
  }
  return undefined;
}

/**
 * A search-only API (the deployed search function, which API Gateway sends `GET /search` to): the
 * same route, parameters, answers and errors as the upload API's search.
 */
export function createSearchApiHandler(deps: {
  readonly search: (query: SearchQuery) => Promise<SearchResponse>;
  readonly logger: ApiLogger;
}): UploadApiHandler {
  return async (event) => {
    const requestId = event.requestContext?.requestId ?? 'unknown';
    if (routeOf(event).kind !== 'search') {
      return NOT_FOUND(
        `There is no ${`${event.requestContext?.http?.method ?? ''} ${event.rawPath ?? ''}`.trim()} here: this function answers GET /search.`,
      );
    }
    try {
      return await answerSearch(event, deps.search, deps.logger, requestId);
    } catch (error) {
      const response = searchErrorResponse(error, requestId, deps.logger);
      if (response) return response;
      return internalError(deps.logger, 'search api failed', error, requestId);
    }
  };
}
