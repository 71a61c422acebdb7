import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTextReader, type TextReader } from '#engine/ocr/text-reader.ts';
import { printedPage, receipt, streetSigns, twoColumnPage } from '#test/fixtures/documents.ts';
import { characterErrorRate, wordRecall } from '#test/fixtures/text-images.ts';

/** Index of the read line each expected line matches (CER ≤ 10 %), or -1 when none does. */
function matchLines(read: readonly string[], expected: readonly string[]): number[] {
  return expected.map((line) => read.findIndex((candidate) => characterErrorRate(candidate, line) <= 0.1));
}

describe('documents read line by line (PP-OCRv4, rendered pages)', () => {
  let reader: TextReader;

  beforeAll(async () => {
    // A budget no read reaches here: on a busy machine the default could cut a page short.
    reader = await createTextReader({ threads: 1, timeBudgetMs: 600_000 });
  });

  afterAll(async () => {
    await reader?.dispose();
  });

  it('keeps every line of a page of prose, the indented first line of each paragraph included', async () => {
    // Prepare: a heading and three paragraphs whose first lines start two font sizes in.
    const page = await printedPage(1);
    const expected = page.expected.split('\n');

    // Act
    const result = await reader.read(page.rgb);
    expect(result.truncated).toBeUndefined();

    // Assess: as many lines as printed, each found, in the printed order.
    const found = matchLines(
      result.lines.map((l) => l.text),
      expected,
    );
    expect(result.lines).toHaveLength(expected.length);
    expect(found).not.toContain(-1);
    expect(found).toEqual([...found].sort((a, b) => a - b));
    const indented = result.lines.filter((l) => l.box.x > (result.lines.at(-1)?.box.x ?? 0) + 0.02);
    expect(indented.length).toBeGreaterThanOrEqual(3);
  });

  it('reads a two-column page column by column, the heading first', async () => {
    // Prepare
    const page = await twoColumnPage();
    const expected = page.expected.split('\n');

    // Act
    const result = await reader.read(page.rgb);
    expect(result.truncated).toBeUndefined();

    // Assess: the left column is read to its end before the right one starts.
    const found = matchLines(
      result.lines.map((l) => l.text),
      expected,
    );
    expect(found).not.toContain(-1);
    expect(found).toEqual([...found].sort((a, b) => a - b));
    expect(wordRecall(result.full, page.expected)).toBeGreaterThanOrEqual(0.97);
  });

  it('keeps a receipt in rows: each price follows its item, not a column of prices after all items', async () => {
    // Prepare
    const slip = await receipt();

    // Act
    const result = await reader.read(slip.rgb);

    // Assess
    // Spaces ignored: the recogniser may put one inside a monospaced price ("16 .42").
    const text = result.full.replace(/\s+/g, '');
    for (const row of slip.expected.split('\n').filter((r) => /\d+\.\d\d$/.test(r))) {
      expect(text).toContain(row.replace(/\s+/g, ''));
    }
  });

  it('reads each line of a street sign once (no line found twice)', async () => {
    for (const sign of await streetSigns()) {
      // Act
      const result = await reader.read(sign.rgb);

      // Assess
      const read = result.lines.map((l) => l.text.toUpperCase().replace(/\s+/g, ''));
      expect(new Set(read).size, sign.name).toBe(read.length);
      expect(wordRecall(result.full, sign.expected), sign.name).toBeGreaterThanOrEqual(0.9);
    }
  });
});
