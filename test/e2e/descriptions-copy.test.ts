import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatStackEvent } from '../../functions/local/console-printer.ts';
import { type LocalStack, type StackEvent, startLocalStack } from '../../functions/local/stack.ts';
import { imageFixture } from '../fixtures/images.ts';
import { testStackOptions } from '../support/local-stack-options.ts';

/**
 * "Where are my descriptions?" s3rver stores objects under internal names and uploads get a
 * server-made key; the stack keeps a readable copy of each sidecar under the name the person
 * uploaded, and the console names the file the same way.
 */
let dir: string;
let stack: LocalStack;
const events: StackEvent[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-descriptions-'));
  stack = await startLocalStack(testStackOptions(join(dir, 'data')), { onEvent: (e) => events.push(e) });
});

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function upload(filename: string, bytes: Buffer): Promise<string> {
  const asked = await fetch(`${stack.webUrl}/uploads`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ filename, contentType: 'image/png', size: bytes.length }),
  });
  const ticket = (await asked.json()) as { id: string; url: string; fields: Record<string, string> };
  const form = new FormData();
  for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
  form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), filename);
  const stored = await fetch(ticket.url, { method: 'POST', body: form });
  expect(stored.status).toBeLessThan(300);
  return `images/uploads/${ticket.id}`;
}

async function waitForFile(path: string, done: (json: Record<string, unknown>) => boolean) {
  const deadline = Date.now() + 45_000;
  for (;;) {
    try {
      const json = JSON.parse(await readFile(path, 'utf8'));
      if (done(json)) return json;
    } catch {
      // Not written yet.
    }
    if (Date.now() > deadline) throw new Error(`${path} was not written`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('descriptions by original file name (npm start)', () => {
  it('writes each description to .local-data/descriptions/<original name>.description.json, two same-named uploads apart', async () => {
    const red = await imageFixture('solidRed');
    const blue = await imageFixture('solidBlue');

    // Act: two uploads with the same name, as the page does them.
    const redKey = await upload('holiday 01.png', red);
    const blueKey = await upload('holiday 01.png', blue);

    // Assess: one readable copy each, finished, under the name the person knows.
    const descriptions = join(dir, 'data', 'descriptions');
    const finished = (json: Record<string, unknown>) =>
      (json.status as { detailed: { state: string } }).detailed.state === 'done';
    const first = await waitForFile(join(descriptions, 'holiday 01.png.description.json'), finished);
    const second = await waitForFile(join(descriptions, 'holiday 01 (2).png.description.json'), finished);
    const byKey = new Map([first, second].map((json) => [(json.source as { key: string }).key, json]));
    expect(byKey.get(redKey)?.caption).toBe('a red square');
    expect(byKey.get(blueKey)?.caption).toBe('a blue square');

    // The console names the upload, not the server-made key, and says where the copy is.
    const lines = events.map((e) => formatStackEvent(e, dir)?.line).filter(Boolean);
    expect(lines).toContain('↑ holiday 01.png');
    expect(lines.some((l) => l?.startsWith('✓ holiday 01.png: the image shows a red square'))).toBe(true);
    expect(
      lines.some((l) => l?.endsWith(`→ ${join('data', 'descriptions', 'holiday 01.png.description.json')}`)),
    ).toBe(true);
    expect(lines.some((l) => l?.includes('images/uploads/'))).toBe(false);
  });
});
