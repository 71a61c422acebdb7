import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { parseStoredRecord } from '#engine/pipeline/staleness.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { sidecarWhen as waitForSidecar } from '#test/support/sidecar-when.ts';
import { type LocalStack, startLocalStack } from '../../functions/local/stack.ts';
import { imageFixture } from '../fixtures/images.ts';
import { testStackOptions } from '../support/local-stack-options.ts';
import { launchBrowser } from './browser.ts';

/**
 * First run without models (offline): the stack starts, describes what needs no model (colours,
 * facts, text), marks the caption stages waiting-for-models, and completes those images by itself
 * once the model files appear — no restart. Images go in through the inbox folder, with mirroring.
 */
const SCREENSHOTS = resolve('test-output/screenshots');
let dir: string;
let modelsDir: string;
let inbox: string;
let stack: LocalStack;
let store: S3ObjectStore;
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
// The known-answer set from test/global-setup.ts (the stack repoints MODELS_DIR at its own dir).
const FIXTURE_MODELS = process.env.MODELS_DIR as string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-offline-'));
  modelsDir = join(dir, 'models');
  inbox = join(dir, 'inbox');
  await mkdir(modelsDir, { recursive: true });
  await mkdir(SCREENSHOTS, { recursive: true });
  // The manifest of the known-answer set, but none of its model folders.
  await cp(join(FIXTURE_MODELS, 'manifest.json'), join(modelsDir, 'manifest.json'));
  stack = await startLocalStack(
    testStackOptions(join(dir, 'data'), { inboxDir: inbox, mirror: true, modelsDir, modelRecheckMs: 200 }),
  );
  store = new S3ObjectStore({ bucket: stack.bucket, client: stack.s3 });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

const sidecarWhen = (key: string, done: (record: DescriptionRecord) => boolean) =>
  waitForSidecar(store, key, done);

describe('local stack without models', () => {
  it('describes colours at once, waits for the caption, and finishes once the models appear', async () => {
    // Prepare
    await writeFile(join(inbox, 'red.png'), await imageFixture('solidRed'));

    // Act: offline
    const waiting = await sidecarWhen(
      'descriptions/red.png.json',
      (r) => r.status.fast.state === 'waiting-for-models' && r.status.detailed.state !== 'pending',
    );

    // Assess: colours and facts now, no caption, the reason recorded
    expect(waiting.colours?.[0]).toMatchObject({ hex: '#ff0000', family: 'red' });
    expect(waiting.image).toMatchObject({ format: 'png', width: 64, height: 64 });
    expect(waiting.caption).toBeUndefined();
    expect(waiting.errors.fast?.code).toBe('MODEL_NOT_FOUND');
    expect(waiting.status.detailed.state).toBe('waiting-for-models');
    browser = await launchBrowser();
    const page = await browser.context.newPage();
    await page.goto(stack.webUrl);
    const redCard = page.locator('.card', { has: page.locator('h3', { hasText: 'red.png' }) });
    await expect
      .poll(
        () =>
          redCard
            .locator('.hint')
            .first()
            .textContent({ timeout: 1000 })
            .catch(() => null),
        {
          timeout: 10_000,
        },
      )
      .toBe('Caption waits for the models to be installed.');
    expect(await redCard.locator('.swatch-name').first().textContent()).toBe('red');
    expect(await redCard.locator('.swatch-meta').first().textContent()).toBe('100% · #ff0000');
    expect(await redCard.locator('.badge').textContent()).toBe('Waiting for models');
    await page.screenshot({ path: join(SCREENSHOTS, 'waiting-for-models.png'), fullPage: true });

    // Act: the models arrive (as `npm run models:fetch` would put them)
    for (const entry of await readdir(FIXTURE_MODELS)) {
      if (entry !== 'manifest.json') {
        await cp(join(FIXTURE_MODELS, entry), join(modelsDir, entry), { recursive: true });
      }
    }
    const done = await sidecarWhen('descriptions/red.png.json', (r) => r.status.detailed.state === 'done');

    // Assess: the same image, now fully described, mirrored next to the file
    expect(done.caption).toBe('a red square');
    expect(done.detailedDescription).toBeTruthy();
    expect(done.status.fast.state).toBe('done');
    expect(done.errors).toEqual({});
    const mirrored = await sidecarWhenMirrored(join(inbox, 'red.png.description.json'));
    expect(mirrored.caption).toBe('a red square');
    // The page's list refresh (every 5 s) shows the caption without a reload.
    await expect
      .poll(
        () =>
          redCard
            .locator('.caption')
            .textContent({ timeout: 1000 })
            .catch(() => null),
        {
          timeout: 15_000,
        },
      )
      .toBe('a red square');
  });
});

async function sidecarWhenMirrored(path: string): Promise<DescriptionRecord> {
  const { readFile } = await import('node:fs/promises');
  const end = Date.now() + 10_000;
  for (;;) {
    const record = parseStoredRecord(JSON.parse(await readFile(path, 'utf8').catch(() => 'null')));
    if (record?.status.detailed.state === 'done') return record;
    if (Date.now() > end) throw new Error(`Expected a finished sidecar mirrored at ${path}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
