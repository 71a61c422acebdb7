import { request } from 'node:http';
import { afterAll, expect, it } from 'vitest';

/**
 * The hostile-input suites (test/e2e/hostile-*.test.ts): each kind of bad file, name or request
 * is one test, registered through `kind`, so the suite can say how many kinds it tried per channel.
 */
export function hostileTally(suite: string) {
  const counts = new Map<string, number>();
  const kind = (channel: string, name: string, run: () => Promise<void>, timeout?: number) => {
    counts.set(channel, (counts.get(channel) ?? 0) + 1);
    it(`${channel}: ${name}`, run, timeout);
  };
  afterAll(() => {
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const lines = [...counts].map(([channel, n]) => `  ${channel}: ${n}`);
    console.log(`${suite}: ${total} kinds of bad input\n${lines.join('\n')}`);
  });
  return { kind, total: () => [...counts.values()].reduce((a, b) => a + b, 0) };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/**
 * One HTTP request exactly as given (path not normalised, any Host header), as an attacker's
 * client would send it.
 */
export function rawRequest(
  port: number,
  options: {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: `127.0.0.1:${port}`, ...options.headers };
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers,
        setHost: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A refusal or a client error: never a 5xx, never a dropped connection. */
export function expectClientError(response: RawResponse, status?: number): void {
  if (status !== undefined) expect(response.status, response.text).toBe(status);
  else {
    expect(response.status, response.text).toBeGreaterThanOrEqual(400);
    expect(response.status, response.text).toBeLessThan(500);
  }
}
