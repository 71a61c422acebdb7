import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FETCH_COMMAND, ModelStatus, type ModelStatusView } from '../../functions/local/model-status.ts';
import { type LocalStack, startLocalStack } from '../../functions/local/stack.ts';
import { testStackOptions } from '../support/local-stack-options.ts';
import { launchBrowser } from './browser.ts';

/**
 * The page says whether captions can be written before anything is uploaded: missing (with the
 * command to run), downloading (with progress) or ready. Without models the stack is started as on
 * an offline first run; the model files are then copied in, and the open page says ready.
 */
const SCREENSHOTS = resolve('test-output/screenshots');
const FIXTURE_MODELS = process.env.MODELS_DIR as string;
let dir: string;
let modelsDir: string;
let stack: LocalStack;
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-model-status-'));
  modelsDir = join(dir, 'models');
  await mkdir(modelsDir, { recursive: true });
  await mkdir(SCREENSHOTS, { recursive: true });
  // The known-answer set's manifest, none of its model folders: an offline first run.
  await cp(join(FIXTURE_MODELS, 'manifest.json'), join(modelsDir, 'manifest.json'));
  stack = await startLocalStack(testStackOptions(join(dir, 'data'), { modelsDir, modelRecheckMs: 200 }));
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function status(): Promise<ModelStatusView> {
  const response = await fetch(`${stack.webUrl}/models/status`);
  expect(response.status).toBe(200);
  return (await response.json()) as ModelStatusView;
}

describe('model state on the page, before any upload', () => {
  it('says the models are missing and what to run, then ready once the files are there', async () => {
    // Act 1: no models, nothing uploaded
    const missing = await status();

    // Assess 1: the route and the page say missing, with the command
    expect(missing.state).toBe('missing');
    expect(missing.command).toBe(FETCH_COMMAND);
    expect(missing.missing.map((m) => m.id)).toContain('fixtures/florence2-colour');
    expect(missing.missing.flatMap((m) => m.tasks)).toContain('caption');
    const page = await (browser as NonNullable<typeof browser>).context.newPage();
    await page.goto(stack.webUrl);
    const banner = page.locator('#model-status');
    await banner.waitFor({ state: 'visible' });
    await expect.poll(() => banner.getAttribute('data-state')).toBe('missing');
    expect(await banner.textContent()).toContain('Models missing');
    expect(await banner.locator('code').textContent()).toBe('npm run models:fetch');
    expect(await page.locator('#results li').count()).toBe(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'models-missing.png'), fullPage: true });

    // Act 2: the models arrive (as `npm run models:fetch` would leave them), no restart, no reload
    for (const id of [
      'fixtures/florence2-colour',
      'fixtures/smolvlm-colour',
      'fixtures/vit-gpt2-colour',
      'fixtures/clip-colour',
    ]) {
      await cp(join(FIXTURE_MODELS, id), join(modelsDir, id), { recursive: true });
    }

    // Assess 2: ready, on the route and on the open page
    expect((await status()).state).toBe('ready');
    await expect.poll(() => banner.getAttribute('data-state'), { timeout: 10_000 }).toBe('ready');
    expect(await banner.textContent()).toContain('Models ready');
    expect(await banner.locator('code').count()).toBe(0);
    await page.close();
  });

  it('reports a download in progress with its share done', async () => {
    // Prepare: a model directory that lacks its models, and a download under way
    const empty = join(dir, 'empty-models');
    await mkdir(empty, { recursive: true });
    await cp(join(FIXTURE_MODELS, 'manifest.json'), join(empty, 'manifest.json'));
    const models = new ModelStatus(empty);

    // Act
    models.onProgress({ type: 'model', id: 'a', revision: 'r', dir: empty, totalBytes: 300, files: ['x'] });
    models.onProgress({ type: 'model', id: 'b', revision: 'r', dir: empty, totalBytes: 100, files: ['y'] });
    models.onProgress({ type: 'bytes', id: 'a', file: 'x', receivedBytes: 150, totalBytes: 300 });
    const downloading = await models.view();
    models.downloadEnded();
    const after = await models.view();

    // Assess: 150 of 400 bytes; once the download stops (here: failed), missing again with the command
    expect(downloading.state).toBe('downloading');
    expect(downloading.download).toEqual({ receivedBytes: 150, totalBytes: 400, percent: 37 });
    expect(downloading.message).toContain('37%');
    expect(after.state).toBe('missing');
    expect(after.command).toBe(FETCH_COMMAND);
  });
});

describe('model state when questions are configured', () => {
  it('is ready for captions but names the optional questions model and the command that fetches it', async () => {
    // Prepare: the fixture set without its SmolVLM files
    const withoutVlm = join(dir, 'models-without-vlm');
    await cp(FIXTURE_MODELS, withoutVlm, { recursive: true });
    await rm(join(withoutVlm, 'fixtures', 'smolvlm-colour'), { recursive: true, force: true });

    // Act
    const asked = await new ModelStatus(withoutVlm, { questionsAsked: true }).view();
    const notAsked = await new ModelStatus(withoutVlm).view();

    // Assess
    expect(asked).toMatchObject({ state: 'ready', command: `${FETCH_COMMAND} -- --all` });
    expect(asked.message).toContain('questions model is not installed');
    expect(notAsked.state).toBe('ready');
    expect(notAsked.command).toBeUndefined();
  });
});
