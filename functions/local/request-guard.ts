import type { IncomingMessage } from 'node:http';

/**
 * What every request to the local stack's servers (the page/API server and the S3 endpoint) must
 * be before anything reads it. Both listen on loopback only, yet any web page the user visits can
 * send requests to 127.0.0.1, and through DNS rebinding a page's own host name can resolve to it.
 * So a request is refused when:
 * - its Host header is not this server's own loopback address (a rebound name arrives with the
 *   attacker's host name in it);
 * - it carries an Origin other than the stack's page (a browser always sends Origin on cross-origin
 *   POST/PUT and CORS requests; the SDK, the CLI and curl send none);
 * - a browser marks it as coming from another page (Sec-Fetch-Site `cross-site`, or `same-site`:
 *   any other server on localhost, whatever its port) without the page's Origin, unless it is the
 *   user opening the page itself in a tab (a top-level visit to a `visitable` path). An `<img>` on
 *   another site sends no Origin, so this is what stops it reading thumbnails, images and records;
 * - its path is not valid percent-encoded UTF-8 (a 400, not an exception).
 * Browsers too old to send Sec-Fetch-Site still honour `Cross-Origin-Resource-Policy: same-origin`
 * (SAME_ORIGIN_HEADERS), which every answer carries.
 */

export interface Refusal {
  readonly status: number;
  /** S3's error code for it (the S3 endpoint answers in S3's XML shape). */
  readonly code: string;
  readonly message: string;
}

export interface GuardRules {
  /** The port this server listens on: the Host header must name it on a loopback name. */
  readonly port: number;
  /** Origins allowed to call this server from a browser (the page's own origin). */
  readonly origins: readonly string[];
  /** Paths a person may open in a tab from a link on another site (the page); default none. */
  readonly visitable?: (path: string) => boolean;
}

/** On every answer: no other origin may embed it (`<img>`, `<script>`) or frame it. */
export const SAME_ORIGIN_HEADERS: Readonly<Record<string, string>> = {
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'",
};

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'] as const;

/** `http://127.0.0.1:<port>`, `http://localhost:<port>`, `http://[::1]:<port>`. */
export function loopbackOrigins(port: number): string[] {
  return LOOPBACK_NAMES.map((name) => `http://${name}:${port}`);
}

/** Each `/`-separated segment of a path, percent-decoded; undefined when one is not valid UTF-8. */
export function decodePath(path: string): string[] | undefined {
  try {
    return path.split('/').map((segment) => decodeURIComponent(segment));
  } catch {
    return undefined;
  }
}

/** Why `req` must not be served, or undefined when it may. */
export function refusalFor(req: IncomingMessage, rules: GuardRules): Refusal | undefined {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!LOOPBACK_NAMES.some((name) => host === `${name}:${rules.port}`)) {
    return {
      status: 403,
      code: 'AccessDenied',
      message: `Expected a Host header of 127.0.0.1:${rules.port} but received ${JSON.stringify(host)}`,
    };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !rules.origins.includes(origin)) {
    return {
      status: 403,
      code: 'AccessDenied',
      message: `Requests from ${JSON.stringify(origin)} are not allowed: only the local page may call this server`,
    };
  }
  const raw = req.url ?? '';
  if (!raw.startsWith('/')) {
    return { status: 400, code: 'InvalidURI', message: "Couldn't parse the specified URI." };
  }
  const path = raw.split('?')[0] ?? '';
  const site = req.headers['sec-fetch-site'];
  if ((site === 'cross-site' || site === 'same-site') && origin === undefined) {
    const visit =
      req.method === 'GET' &&
      req.headers['sec-fetch-mode'] === 'navigate' &&
      req.headers['sec-fetch-dest'] === 'document' &&
      (rules.visitable?.(path) ?? false);
    if (!visit) {
      return {
        status: 403,
        code: 'AccessDenied',
        message: `Requests from other sites (Sec-Fetch-Site: ${site}) are not allowed: only the local page may read this server`,
      };
    }
  }
  if (decodePath(path) === undefined) {
    return {
      status: 400,
      code: 'InvalidURI',
      message: "Couldn't parse the specified URI: the path is not valid percent-encoded UTF-8.",
    };
  }
  return undefined;
}

/** CORS response headers for an allowed origin (none for a request without one). */
export function corsHeadersFor(req: IncomingMessage, rules: GuardRules): Record<string, string> {
  const origin = req.headers.origin;
  if (origin === undefined || !rules.origins.includes(origin)) return {};
  return { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-expose-headers': 'ETag' };
}
