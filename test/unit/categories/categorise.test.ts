import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { categoriesProvenance, categorise, categoryTerms } from '#engine/categories/categorise.ts';
import { type Category, parseQuestionsConfig } from '#engine/questions/config.ts';
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

  it('a new description (for people, not read by scoring) keeps the key; a new keyword changes it', () => {
    const [first, ...rest] = COLOUR_CATEGORIES;
    if (!first) throw new Error('Expected a fixture category');
    const before = categoriesProvenance(COLOUR_CATEGORIES);

    const described = categoriesProvenance([{ ...first, description: 'Anything red' }, ...rest]);
    const rekeyed = categoriesProvenance([
      { ...first, keywords: [...(first.keywords ?? []), 'crimson'] },
      ...rest,
    ]);

    expect(described).toEqual(before);
    expect(rekeyed.promptHash).not.toBe(before.promptHash);
  });

  it('prompts and the embedding model that scores them are part of the key; a list without prompts ignores the model', () => {
    const clip = { id: 'clip', revision: 'r1', architecture: 'clip', dtype: 'q8', promptHash: 'e' };
    const embedding = { model: clip, minSimilarity: 0.2 };
    const [first, ...rest] = COLOUR_CATEGORIES;
    if (!first) throw new Error('Expected a fixture category');
    const withPrompts = [{ ...first, prompts: ['a photo of something red'] }, ...rest];

    // Stored keys of lists without prompts stay valid: nothing is re-scored for the new rules.
    expect(categoriesProvenance(COLOUR_CATEGORIES, embedding)).toEqual(
      categoriesProvenance(COLOUR_CATEGORIES),
    );
    const keyed = categoriesProvenance(withPrompts, embedding);
    expect(keyed.promptHash).not.toBe(categoriesProvenance(COLOUR_CATEGORIES, embedding).promptHash);
    expect(
      categoriesProvenance(withPrompts, { ...embedding, model: { ...clip, revision: 'r2' } }),
    ).not.toEqual(keyed);
    expect(categoriesProvenance(withPrompts, { ...embedding, minSimilarity: 0.25 })).not.toEqual(keyed);
  });
});

describe('categorise: plurals both ways, any script', () => {
  const match = (caption: string, category: Category) => categorise(recordWith({ caption }), [category]);
  const shipped = parseQuestionsConfig(
    JSON.parse(readFileSync('config/questions.json', 'utf8')),
    'config/questions.json',
  ).categories;
  const people = shipped.find((c) => c.id === 'people') as Category;

  it.each([
    ['a dog on a sofa', { id: 'dogs', label: 'Dogs' }],
    ['two buses at a stop', { id: 'buses', label: 'Buses' }],
    ['a bus at a stop', { id: 'buses', label: 'Buses' }],
    ['a puppy on a lawn', { id: 'puppies', label: 'Puppies' }],
    ['a box of toys', { id: 'toys', label: 'Things', keywords: ['toy'] }],
    ['a toy on a shelf', { id: 'toys', label: 'Toys' }],
    ['two boxes on a table', { id: 'boxes', label: 'Things', keywords: ['box'] }],
    ['two ice creams', { id: 'ice', label: 'Things', keywords: ['ice cream'] }],
  ])('"%s" is in %o', (caption, category) => {
    expect(match(caption, category).map((m) => m.id)).toEqual([category.id]);
  });

  it('a word ending in s that is no plural does not lose its s ("News" is not "new")', () => {
    expect(match('a new car', { id: 'news', label: 'News' })).toEqual([]);
  });

  it.each(['two women on a bench', 'children playing', 'three men at work', 'a man and a woman'])(
    'the shipped people category finds "%s"',
    (caption) => {
      expect(match(caption, people).map((m) => m.id)).toEqual(['people']);
    },
  );

  it('keywords in other scripts match, and a keyword that is only punctuation matches nothing', () => {
    const cats = { id: 'cats', label: 'Кошки', keywords: ['猫', 'gâteau'] };
    expect(match('Кошка спит', cats)).toEqual([]);
    expect(match('две кошки на диване', cats).map((m) => m.evidence)).toEqual([['caption: кошки']]);
    expect(match('猫 on a sofa', cats).map((m) => m.evidence)).toEqual([['caption: 猫']]);
    expect(match('un gateau', cats).map((m) => m.evidence)).toEqual([['caption: gateau']]);
    expect(categoryTerms({ id: 'dots', label: '...', keywords: ['!!', '…'] })).toEqual([]);
    expect(match('... !!', { id: 'dots', label: '...', keywords: ['!!'] })).toEqual([]);
  });

  it('words that are names of Object properties are plain words', () => {
    expect(
      match('the constructor of the bridge', { id: 'x', label: 'Things', keywords: ['toString'] }),
    ).toEqual([]);
  });
});
