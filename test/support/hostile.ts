import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { type ChannelCount, formatCounts, HOSTILE_COUNTS_DIR } from './hostile-counts.ts';

/**
 * The hostile-input suites (test/e2e/hostile-*.test.ts): each kind of bad file, name or request
 * is one test, registered through `kind` under its entry point (the channel), so the suite can say
 * how many distinct kinds it tried per channel and how many ended as they should. Names must be
 * distinct. At the end the suite prints its counts and leaves them in HOSTILE_COUNTS_DIR, where
 * the run's teardown adds up every suite that ran (`hostileSummary`).
 */
export function hostileTally(suite: string) {
  const counts = new Map<string, ChannelCount>();
  const names = new Set<string>();
  const kind = (channel: string, name: string, run: () => Promise<void>, timeout?: number) => {
    const title = `${channel}: ${name}`;
    if (names.has(title))
      throw new Error(`Expected distinct kinds of bad input but "${title}" is there twice`);
    names.add(title);
    const count = counts.get(channel) ?? { kinds: 0, passed: 0 };
    counts.set(channel, count);
    count.kinds += 1;
    it(
      title,
      async () => {
        await run();
        count.passed += 1;
      },
      timeout,
    );
  };
  const total = () => [...counts.values()].reduce((sum, count) => sum + count.kinds, 0);
  afterAll(async () => {
    console.log(formatCounts(suite, counts));
    await mkdir(HOSTILE_COUNTS_DIR, { recursive: true });
    const file = `${suite.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}.json`;
    await writeFile(
      join(HOSTILE_COUNTS_DIR, file),
      JSON.stringify({ suite, channels: Object.fromEntries(counts) }),
    );
  });
  return { kind, total };
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
