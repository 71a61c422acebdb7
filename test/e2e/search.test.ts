import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchHit, SearchResponse } from '#engine/search/document.ts';
import { type LocalStack, type StackEvent, startLocalStack } from '../../functions/local/stack.ts';
import { imageFixture } from '../fixtures/images.ts';
import { renderTextImage, textImage } from '../fixtures/text-images.ts';
import { testStackOptions } from '../support/local-stack-options.ts';

/**
 * Search on the local stack, end to end: images go in through the upload API, the stages describe
 * them (OCR included, with the tiny caption models), and GET /search finds them by the words of
 * their text and by colour family — and not through a colour name that merely contains the word.
 * A restart on the same data directory opens the index file as it is (no rebuild) and answers the
 * same; an unreadable index file is rebuilt from the stored descriptions, saying so.
 */
const TIMEOUT = 60_000;
let dir: string;
let stack: LocalStack;
const events: StackEvent[] = [];

/** White "OPEN 24 HOURS" on red: the sign a user photographs. */
async function redSign(): Promise<Buffer> {
  const spec = {
    ...textImage('clearHeading'),
    name: 'openSign',
    lines: ['OPEN 24 HOURS'],
    colour: '#ffffff',
    background: { kind: 'flat' as const, colour: '#d01818' },
  };
  return (await renderTextImage(spec)).png;
}

/** A plain light grey: its palette names it "light gray", and colour names are not search words. */
const dawnGrey = () =>
  sharp({ create: { width: 64, height: 64, channels: 3, background: '#d8d7d9' } })
    .png()
    .toBuffer();

async function upload(name: string, bytes: Buffer): Promise<string> {
  const response = await fetch(`${stack.webUrl}/uploads`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ filename: name, contentType: 'image/png', size: bytes.length }),
  });
  expect(response.status).toBe(201);
  const ticket = (await response.json()) as { id: string; url: string; fields: Record<string, string> };
  const form = new FormData();
  for (const [field, value] of Object.entries(ticket.fields)) form.append(field, value);
  form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), name);
  const stored = await fetch(ticket.url, { method: 'POST', body: form });
  expect(stored.ok).toBe(true);
  return ticket.id;
}

/** The shared shape; the local API adds each image's thumbnail route. */
type LocalResponse = SearchResponse & { results: Array<SearchHit & { imageUrl?: string }>; error?: unknown };

async function search(query: string): Promise<{ status: number; body: LocalResponse }> {
  const response = await fetch(`${stack.webUrl}/search?${query}`);
  return { status: response.status, body: (await response.json()) as LocalResponse };
}

const names = (body: SearchResponse) => body.results.map((hit) => hit.name);

/** Until every image has both stages done (the text arrives with the detailed stage). */
async function describedBoth(): Promise<void> {
  const end = Date.now() + TIMEOUT;
  for (;;) {
    const { body } = await search('detailed=done');
    if (body.results.length === 3) return;
    if (Date.now() > end) {
      // Say what there is and what went wrong, rather than only that it did not happen.
      const all = (await search('')).body.results.map((hit) => [hit.name, hit.status]);
      const errors = events.flatMap((e) => (e.type === 'error' ? [`${e.where}: ${String(e.error)}`] : []));
      throw new Error(
        `Expected 3 described images, found ${JSON.stringify(all)}; errors: ${errors.join('; ')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-search-'));
  stack = await startLocalStack(testStackOptions(join(dir, 'data')), { onEvent: (e) => events.push(e) });
  await upload('open-sign.png', await redSign());
  await upload('dawn.png', await dawnGrey());
  await upload('blue.png', await imageFixture('solidBlue'));
  await describedBoth();
}, TIMEOUT + 30_000);

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('GET /search on the local stack', () => {
  it('finds the red sign by a word of its text, and by its colour family', async () => {
    const open = await search('q=open');
    expect(open.status).toBe(200);
    expect(names(open.body)).toEqual(['open-sign.png']);
    expect(open.body.results[0]?.text).toMatch(/OPEN 24 HOURS/);
    expect(open.body.results[0]?.imageUrl).toMatch(/^\/thumbnails\/uploads%2F/);
    expect(names((await search('q=24+hours')).body)).toEqual(['open-sign.png']);
    expect(names((await search('colour=red')).body)).toEqual(['open-sign.png']);
  });

  it('a colour name is not a search word: "light" does not find the grey image named "light gray"', async () => {
    // Prepare: the grey image really carries a colour name with "light" in it.
    const dawn = (await search('q=dawn.png')).body.results[0];
    expect(dawn?.colours.map((c) => c.name)).toContain('light gray');

    // Act
    const light = await search('q=light');

    // Assess
    expect(names(light.body)).not.toContain('dawn.png');
    expect(names((await search('colour=gray')).body)).toEqual(['dawn.png']);
  });

  it('finds by meaning: "crimson" lists the red sign and not the blue image, though no record says it', async () => {
    const crimson = await search('q=crimson');
    expect(crimson.status).toBe(200);
    expect(crimson.body).toMatchObject({ mode: 'hybrid' });
    expect(names(crimson.body)).toEqual(['open-sign.png']);
    expect(JSON.stringify(crimson.body.results[0])).not.toMatch(/"(caption|text|labels)":[^,]*crimson/i);
    expect(names((await search('q=navy')).body)).toEqual(['blue.png']);
    // Filters still hold for the images found by meaning.
    expect(names((await search('q=crimson&colour=blue')).body)).toEqual([]);
  });

  it('lists the images most like one (similar=<key>), itself left out; an unknown key is a 400', async () => {
    const sign = (await search('q=open')).body.results[0];
    const similar = await search(`similar=${encodeURIComponent(sign?.key ?? '')}`);
    expect(similar.status).toBe(200);
    expect(similar.body).toMatchObject({ mode: 'similar', total: 2 });
    expect(names(similar.body).sort()).toEqual(['blue.png', 'dawn.png']);
    const unknown = await search('similar=uploads%2Fnothing.png');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'INVALID_REQUEST', parameter: 'similar' });
  });

  it('answers hostile input with results or a 400 naming the parameter', async () => {
    const quote = await search(`q=${encodeURIComponent("'")}`);
    expect(quote.status).toBe(400);
    expect(quote.body.error).toMatchObject({ code: 'INVALID_REQUEST', parameter: 'q' });
    const injection = await search(`q=${encodeURIComponent("open' OR '1'='1")}`);
    expect(injection.status).toBe(200);
    expect(injection.body.results).toEqual([]);
    expect((await search(`q=${'x'.repeat(10_240)}`)).status).toBe(400);
    expect((await search('q=%E0%A4%A')).status).toBeLessThan(500);
    expect((await search('colour=teal')).body.error).toMatchObject({ parameter: 'colour' });
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
  });

  it('a restart on the same data directory finds the same results', async () => {
    // Prepare: the same ports and data directory, with handlers built afresh for the new stack.
    const before = await Promise.all(['q=open', 'colour=red', 'q=red', ''].map(search));
    const port = (url: string) => Number(new URL(url).port);
    const options = testStackOptions(join(dir, 'data'), {
      s3Port: port(stack.s3Endpoint),
      sqsPort: port(stack.sqsEndpoint),
    });
    await stack.stop();

    const restartEvents: StackEvent[] = [];
    const restart = async () => {
      restartEvents.length = 0;
      stack = await startLocalStack(options, { onEvent: (e) => restartEvents.push(e) });
      return Promise.all(['q=open', 'colour=red', 'q=red', ''].map(search));
    };

    // Act
    const after = await restart();

    // Assess: the same answers, from the file as it was, without a rebuild.
    expect(after.map((r) => r.body)).toEqual(before.map((r) => r.body));
    expect(names(after[0]?.body as SearchResponse)).toEqual(['open-sign.png']);
    expect(restartEvents.filter((e) => e.type === 'search-index')).toEqual([]);

    // A damaged index file: rebuilt once from the descriptions, with the reason, and the same answers.
    await stack.stop();
    await writeFile(join(dir, 'data', 'search-index', 'index.sqlite'), 'not a database'.repeat(512));
    const rebuilt = await restart();
    expect(rebuilt.map((r) => r.body)).toEqual(before.map((r) => r.body));
    const indexEvents = restartEvents.filter((e) => e.type === 'search-index');
    expect(indexEvents[0]).toMatchObject({ state: 'rebuilding', reason: 'unreadable' });
    expect(indexEvents.at(-1)).toMatchObject({ state: 'rebuilt', summary: { indexed: 3 } });
  }, 60_000);
});
