/// <reference lib="dom" />
import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalOptions } from '../../functions/local/options.ts';
import { type LocalStack, startLocalStack } from '../../functions/local/stack.ts';
import { imageFixture } from '../fixtures/images.ts';
import { renderTextImage, textImage } from '../fixtures/text-images.ts';
import { testStackOptions } from '../support/local-stack-options.ts';
import { launchBrowser } from './browser.ts';

const SCREENSHOTS = resolve('test-output/screenshots');
const UPLOAD_MAX_BYTES = 100_000;
/**
 * A result is awaited as the page shows it (the element appearing on the card), not by racing a
 * clock: on a busy 2-core machine a description can take minutes. The bound only ends a run that
 * is stuck; tests that wait for one get the bound plus a minute.
 */
const RESULT_BOUND_MS = 240_000;
const RESULT_TEST_MS = RESULT_BOUND_MS + 60_000;

let stack: LocalStack;
let browser: { context: BrowserContext; close: () => Promise<void> };
let page: Page;
const dataDir = resolve(`test-output/e2e-data-${process.pid}`);

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  const options: LocalOptions = testStackOptions(dataDir, {
    uploadMaxBytes: UPLOAD_MAX_BYTES,
    visibilityTimeoutSeconds: 30,
  });
  stack = await startLocalStack(options);
  browser = await launchBrowser();
  page = await browser.context.newPage();
  await page.setViewportSize({ width: 1200, height: 900 });
  await page.goto(stack.webUrl);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const card = (name: string) => page.locator('.card', { has: page.locator('h3', { hasText: name }) });

/** The text of a card's element once the page has rendered it (a result arrived). */
async function shownText(locator: Locator): Promise<string | null> {
  await locator.waitFor({ state: 'attached', timeout: RESULT_BOUND_MS });
  return locator.textContent();
}

async function upload(files: Array<{ name: string; mimeType: string; buffer: Buffer }>) {
  await page.setInputFiles('#file-input', files);
}

describe('web page on the local stack (chromium, tiny known-answer models)', () => {
  it('uploads a red image and shows the caption, the red swatch and the status', {
    timeout: RESULT_TEST_MS,
  }, async () => {
    // Prepare
    const red = await imageFixture('solidRed');

    // Act
    await upload([{ name: 'red.png', mimeType: 'image/png', buffer: red }]);

    // Assess
    const redCard = card('red.png');
    expect(await shownText(redCard.locator('.caption'))).toBe('a red square');
    const swatch = redCard.locator('.swatch').first();
    expect(await swatch.getAttribute('data-family')).toBe('red');
    // The card leads with the family; the name ("red", the same word) is not repeated.
    expect(await swatch.locator('.swatch-name').textContent()).toBe('red');
    expect(await swatch.locator('.swatch-meta').textContent()).toBe('100% · #ff0000');
    expect(await redCard.locator('.status .badge').textContent()).toMatch(/Caption ready|Done/);
    await page.screenshot({ path: join(SCREENSHOTS, 'upload-red.png'), fullPage: true });
  });

  it('shows its own thumbnails, but a page of another site or port cannot show them', async () => {
    // Prepare: the page reloaded shows red.png from GET /records, its picture from /thumbnails/.
    const own = await browser.context.newPage();
    await own.goto(stack.webUrl);
    const ownImage = own.locator('.card', { has: own.locator('h3', { hasText: 'red.png' }) }).locator('img');
    await expect
      .poll(() => ownImage.evaluate((img: HTMLImageElement) => img.naturalWidth))
      .toBeGreaterThan(0);
    const src = (await ownImage.getAttribute('src')) ?? '';
    expect(src).toContain('/thumbnails/');
    await own.close();
    // Another site, and another server on the same machine (same-site: only the port differs).
    const thumbnail = new URL(src, stack.webUrl).href;
    const other = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<img id="thumb" src="${thumbnail}">`);
    });
    await new Promise<void>((done) => other.listen(0, '127.0.0.1', done));
    const port = (other.address() as AddressInfo).port;
    try {
      for (const origin of [`http://localhost:${port}`, `http://127.0.0.1:${port}`]) {
        // Act
        const visited = await browser.context.newPage();
        await visited.goto(origin);
        // Assess: the picture never loads there (onload would tell that page it exists, and its size)
        await expect
          .poll(() => visited.evaluate(() => (document.getElementById('thumb') as HTMLImageElement).complete))
          .toBe(true);
        expect(
          await visited.evaluate(() => (document.getElementById('thumb') as HTMLImageElement).naturalWidth),
        ).toBe(0);
        await visited.close();
      }
    } finally {
      other.close();
    }
  });

  it('finds the image by search words and by colour family', { timeout: RESULT_TEST_MS }, async () => {
    // Prepare
    const blue = await imageFixture('solidBlue');
    await upload([{ name: 'blue.png', mimeType: 'image/png', buffer: blue }]);
    expect(await shownText(card('blue.png').locator('.caption'))).toBe('a blue square');

    // Act: search words from the caption
    await page.fill('#search', 'red square');

    // Assess
    await expect.poll(() => page.locator('.card h3').allTextContents()).toEqual(['red.png']);
    expect(await page.locator('#match-count').textContent()).toBe('1 of 2 images match');
    await page.screenshot({ path: join(SCREENSHOTS, 'search-red.png'), fullPage: true });

    // Act: nothing matches
    await page.fill('#search', 'zebra');
    await expect.poll(() => page.locator('.card').count()).toBe(0);

    // Act: colour family filter alone
    await page.fill('#search', '');
    await page.selectOption('#family', 'blue');
    await expect.poll(() => page.locator('.card h3').allTextContents()).toEqual(['blue.png']);
    await page.screenshot({ path: join(SCREENSHOTS, 'filter-blue.png'), fullPage: true });
    await page.selectOption('#family', '');
    await expect.poll(() => page.locator('.card').count()).toBe(2);

    // Act: a word in no record, found by meaning (the embeddings of the test models)
    await page.fill('#search', 'crimson');
    await expect.poll(() => page.locator('.card h3').allTextContents()).toEqual(['red.png']);

    // Act: "More like this" on the red card lists the other image, and typing ends it
    await card('red.png').getByRole('button', { name: 'More like this' }).click();
    await expect.poll(() => page.locator('.card h3').allTextContents()).toEqual(['blue.png']);
    expect(await page.locator('#match-count').textContent()).toBe('1 image like red.png');
    expect(await page.inputValue('#search')).toBe('');
    await page.fill('#search', 'red square');
    await expect.poll(() => page.locator('.card h3').allTextContents()).toEqual(['red.png']);
    await page.fill('#search', '');
    await expect.poll(() => page.locator('.card').count()).toBe(2);
  });

  it('asks GET /search for what the search box shows, in its order, and shows its errors', async () => {
    // Act
    const answered = page.waitForResponse(
      (r) => r.url().includes('/search?') && r.url().includes('q=square'),
    );
    await page.fill('#search', 'square');
    const body = (await (await answered).json()) as { results: Array<{ name: string }> };

    // Assess: the cards are the API's results, in the API's order
    expect(body.results.map((hit) => hit.name).sort()).toEqual(['blue.png', 'red.png']);
    await expect
      .poll(() => page.locator('.card h3').allTextContents())
      .toEqual(body.results.map((hit) => hit.name));

    // Act: a query without words gets the API's 400 message, not a crash or every image
    await page.fill('#search', '%');
    await expect
      .poll(() => page.locator('#match-count').textContent())
      .toMatch(/^Expected words to search for/);
    expect(await page.locator('.card').count()).toBe(0);
    await page.fill('#search', '');
    await expect.poll(() => page.locator('.card').count()).toBe(2);
  });

  it('pages: "Show more" asks for the next page by its cursor and appends its cards', async () => {
    // Prepare: an API with 101 matches; the page asks 100 at a time
    const hit = (n: number) => ({
      key: `images/fake-${n}.png`,
      name: `fake-${n}.png`,
      uploadedAt: '2026-11-01T10:00:00.000Z',
      status: { fast: 'done', detailed: 'done' },
      caption: `fake ${n}`,
      colours: [],
      labels: [],
      categories: [],
      score: 1,
    });
    const cursors: Array<string | null> = [];
    const isSearch = (url: URL) => url.pathname.endsWith('/search') && url.searchParams.get('q') === 'paging';
    await page.route(isSearch, async (route) => {
      const cursor = new URL(route.request().url()).searchParams.get('cursor');
      cursors.push(cursor);
      const first = Array.from({ length: 100 }, (_, i) => hit(i + 1));
      const body =
        cursor === 'page-2'
          ? { results: [hit(101)], total: 101 }
          : { results: first, total: 101, nextCursor: 'page-2' };
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
    });

    try {
      // Act
      await page.fill('#search', 'paging');
      await expect.poll(() => page.locator('.card').count()).toBe(100);
      expect(cursors).not.toContain('page-2');
      const more = page.locator('#show-more');
      await expect.poll(() => more.isVisible()).toBe(true);
      expect(await more.textContent()).toBe('Show more (100 of 101 shown)');
      await more.click();

      // Assess: the next page, by the answer's cursor, appended; nothing more to show
      await expect.poll(() => page.locator('.card').count()).toBe(101);
      expect((await page.locator('.card h3').allTextContents()).slice(-2)).toEqual([
        'fake-100.png',
        'fake-101.png',
      ]);
      await expect.poll(() => more.isVisible()).toBe(false);
      expect(cursors).toContain('page-2');
      expect(await page.locator('#match-count').textContent()).toMatch(/^101 of \d+ images match$/);
    } finally {
      await page.unroute(isSearch);
      await page.fill('#search', '');
    }
    await expect.poll(() => page.locator('#show-more').isVisible()).toBe(false);
  });

  it('takes images dropped onto the drop zone', { timeout: RESULT_TEST_MS }, async () => {
    // Prepare
    const green = await imageFixture('solidGreen');
    const dataTransfer = await page.evaluateHandle(
      (bytes) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], 'green.png', { type: 'image/png' }));
        return transfer;
      },
      [...green],
    );

    // Act
    await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });

    // Assess
    expect(await shownText(card('green.png').locator('.caption'))).toBe('a green square');
  });

  it('shows the text found in an image and finds the image by a word of it', {
    timeout: RESULT_TEST_MS,
  }, async () => {
    // Prepare
    const sign = await renderTextImage(textImage('clearHeading'));

    // Act
    await upload([{ name: 'sale.png', mimeType: 'image/png', buffer: sign.png }]);
    const saleCard = card('sale.png');
    expect(await shownText(saleCard.locator('.text-found'))).toBe('GRAND OPENING SALE');
    await page.fill('#search', 'opening');

    // Assess
    await expect.poll(() => page.locator('.card h3').allTextContents()).toEqual(['sale.png']);
    await page.screenshot({ path: join(SCREENSHOTS, 'text-found.png'), fullPage: true });
    await page.fill('#search', '');
  });

  it('shows why a file was rejected: a text file named .png, and a file over the size limit', {
    timeout: RESULT_TEST_MS,
  }, async () => {
    // Prepare
    const text = await imageFixture('textFile');
    const huge = Buffer.alloc(UPLOAD_MAX_BYTES + 1, 1);

    // Act
    await upload([
      { name: 'notes.png', mimeType: 'image/png', buffer: text },
      { name: 'huge.png', mimeType: 'image/png', buffer: huge },
      { name: 'empty.png', mimeType: 'image/png', buffer: Buffer.alloc(0) },
    ]);

    // Assess: the API refuses the big one at once (400), the engine fails the text file
    await expect
      .poll(() => page.locator('#notice').textContent(), { timeout: RESULT_BOUND_MS })
      .toBe(
        '1 file sent; 2 of 3 were not sent: their cards say why. The cards below update as descriptions arrive.',
      );
    const hugeCard = card('huge.png');
    await expect
      .poll(
        () =>
          hugeCard
            .locator('.error')
            .textContent({ timeout: 1000 })
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toBe(
        `The file is ${(UPLOAD_MAX_BYTES + 1).toLocaleString('en-US')} bytes, over the limit of ${UPLOAD_MAX_BYTES.toLocaleString('en-US')} bytes: make it smaller (for example, export it at a lower resolution or quality) and try again.`,
      );
    expect(await hugeCard.locator('.badge').textContent()).toBe('Rejected');
    // An empty file once read "Expected an integer number of bytes from 1 to … for size".
    const emptyCard = card('empty.png');
    await expect
      .poll(
        () =>
          emptyCard
            .locator('.error')
            .textContent({ timeout: 1000 })
            .catch(() => null),
        { timeout: 10_000 },
      )
      .toBe('The file is empty (0 bytes): choose the image file itself and upload it again.');
    const notesCard = card('notes.png');
    expect(await shownText(notesCard.locator('.error'))).toContain('UNSUPPORTED_FORMAT');
    expect(await notesCard.locator('.badge').textContent()).toBe('Failed');
    await page.screenshot({ path: join(SCREENSHOTS, 'rejected.png'), fullPage: true });
  });

  it('works with the keyboard and at phone width', async () => {
    // Prepare
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(stack.webUrl);
    // After a reload the list comes from GET /records, named by the original file names.
    await expect
      .poll(async () => (await page.locator('.card h3').allTextContents()).sort(), { timeout: 10_000 })
      .toEqual(['blue.png', 'green.png', 'notes.png', 'red.png', 'sale.png']);

    // Act: tab through the controls from the top
    const focused: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      await page.keyboard.press('Tab');
      focused.push(
        await page.evaluate(() => document.activeElement?.id || document.activeElement?.className || ''),
      );
    }

    // Assess: skip link, file picker, search, colour family — in reading order; nothing overflows
    expect(focused).toEqual(['skip', 'file-input', 'search', 'family']);
    await page.focus('#file-input');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Space')]);
    expect(chooser.isMultiple()).toBe(true);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    const labels = await page.evaluate(() =>
      ['file-input', 'search', 'family'].map((id) =>
        document.querySelector(`label[for="${id}"]`)?.textContent?.trim(),
      ),
    );
    expect(labels.every(Boolean)).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'phone.png'), fullPage: true });
  });
});
