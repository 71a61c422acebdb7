import { describe, expect, it } from 'vitest';
import { categoriesProvenance, categorise, categoryTerms } from '#engine/categories/categorise.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { measuredRecord, recordWith } from '../guard/support.ts';
import { COLOUR_CATEGORIES } from './fixture.ts';

describe('categorise', () => {
  it('puts the red image in red-things only, from its caption and its measured palette', async () => {
    // The fast fixture model's caption for this image is "a red square".
    const record = await measuredRecord(await imageFixture('solidRed'), { caption: 'a red square' });

    expect(categorise(record, COLOUR_CATEGORIES)).toEqual([
      { id: 'red-things', score: 0.76, evidence: ['caption: red', 'colours: red'] },
    ]);
  });

  it('an image may match none', async () => {
    const record = await measuredRecord(await imageFixture('solidGreen'), { caption: 'a green square' });

    expect(categorise(record, COLOUR_CATEGORIES)).toEqual([]);
  });

  it('ranks by how many independent sources agree, and reads plurals, labels and answers', () => {
    const model = { id: 'm', revision: 'r', architecture: 'smolvlm', dtype: 'fp32', promptHash: 'p' };
    const record = recordWith({
      caption: 'two puppies on a lawn',
      labels: ['dog'],
      detailedDescription: 'a page of text beside the dogs',
      answers: { animal: { value: 'dog', raw: 'A dog.', model } },
    });

    const matches = categorise(record, [
      ...COLOUR_CATEGORIES,
      { id: 'puppies', label: 'Puppies', keywords: ['puppy'] },
    ]);

    expect(matches.map((m) => [m.id, m.score])).toEqual([
      ['animals', 0.88],
      ['puppies', 0.6],
      ['documents', 0.4],
    ]);
    expect(matches[0]?.evidence).toEqual(['labels: dog', 'detailedDescription: dog', 'answers: dog']);
  });

  it('OCR text alone is enough for a text category, a trace of a colour is not', async () => {
    const withText = recordWith({ text: { full: 'INVOICE 2024-117', lines: [] } });
    expect(categorise(withText, COLOUR_CATEGORIES).map((m) => m.id)).toEqual(['documents']);

    // 70% red, 30% blue: both dominant families count.
    const twoColour = await measuredRecord(await imageFixture('redBlue7030'));
    expect(categorise(twoColour, COLOUR_CATEGORIES).map((m) => [m.id, m.score])).toEqual([
      ['blue-things', 0.4],
      ['red-things', 0.4],
    ]);
  });

  it('uses keywords and the meaningful words of the label, and a list change is a new provenance key', () => {
    expect(categoryTerms({ id: 'f', label: 'Food and drink', keywords: ['Ice cream'] })).toEqual([
      'ice cream',
      'food',
      'drink',
    ]);
    const before = categoriesProvenance(COLOUR_CATEGORIES);
    const after = categoriesProvenance([...COLOUR_CATEGORIES, { id: 'x', label: 'X', keywords: [] }]);
    expect(after.promptHash).not.toBe(before.promptHash);
    expect(categoriesProvenance(COLOUR_CATEGORIES)).toEqual(before);
  });
});
