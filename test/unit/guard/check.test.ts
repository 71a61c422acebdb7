import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConsistency, substringEditDistance } from '#engine/guard/check.ts';
import { colourClaims, objectClaims, textClaims } from '#engine/guard/claims.ts';
import { createTextReader, type TextReader } from '#engine/ocr/text-reader.ts';
import type { Answer, DetectedObject } from '#engine/record/schema.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { renderTextImage, textImage } from '#test/fixtures/text-images.ts';
import { measuredRecord, recordWith } from './support.ts';

const box = { x: 0.1, y: 0.1, width: 0.2, height: 0.2 };
const objects = (...labels: string[]): DetectedObject[] => labels.map((label) => ({ label, box }));
const model = { id: 'm', revision: 'r', architecture: 'smolvlm', dtype: 'fp32', promptHash: 'p' };

describe('consistency guard: colours against the measured palette', () => {
  it('flags "a blue square" on the red image as contradicted, and keeps the caption as written', async () => {
    // Prepare: the palette as the fast stage measures it on the red fixture image.
    const record = await measuredRecord(await imageFixture('solidRed'), { caption: 'a blue square' });

    // Act
    const checks = checkConsistency(record, 'fast');

    // Assess
    expect(checks).toEqual([
      {
        kind: 'colour',
        field: 'caption',
        claim: 'blue ("a blue square")',
        evidence: 'palette red 100%',
        verdict: 'contradicted',
      },
    ]);
    expect(record.caption).toBe('a blue square');
  });

  it('finds "a red square" consistent with the red image', async () => {
    const record = await measuredRecord(await imageFixture('solidRed'), { caption: 'a red square' });

    expect(checkConsistency(record, 'fast').map((c) => [c.claim, c.verdict])).toEqual([
      ['red ("a red square")', 'consistent'],
    ]);
  });

  it('checks each colour of a two-colour image, and a neighbouring family is unverifiable, not wrong', async () => {
    // 70% red, 30% blue.
    const record = await measuredRecord(await imageFixture('redBlue7030'), {
      caption: 'a red and blue flag',
      detailedDescription: 'an orange shape next to a green one',
    });

    const verdicts = checkConsistency(record).map((c) => [c.field, c.claim, c.verdict]);

    expect(verdicts).toEqual([
      ['caption', 'red ("a red and blue")', 'consistent'],
      ['caption', 'blue ("red and blue flag")', 'consistent'],
      ['detailedDescription', 'orange ("an orange shape next")', 'unverifiable'],
      ['detailedDescription', 'green ("to a green one")', 'unverifiable'],
    ]);
  });

  it('checks answers too, and says unverifiable when no palette was measured', () => {
    const answers: Record<string, Answer> = { colour: { value: 'blue', raw: 'blue', model } };
    const record = recordWith({ answers });

    expect(checkConsistency(record)).toEqual([
      {
        kind: 'colour',
        field: 'answers.colour',
        claim: 'blue ("blue")',
        evidence: 'no palette measured',
        verdict: 'unverifiable',
      },
    ]);
    // The fast stage has no answers to check.
    expect(checkConsistency(record, 'fast')).toEqual([]);
  });

  it('ignores colour words that name no colour ("a black and white photo", "orange juice")', () => {
    expect(colourClaims('a black and white photo of a glass of orange juice and two oranges')).toEqual([]);
    expect(colourClaims('a Grey cat on a reddish sofa').map((c) => c.family)).toEqual(['gray', 'red']);
  });
});

describe('consistency guard: text against OCR', () => {
  let reader: TextReader;
  beforeAll(async () => {
    reader = await createTextReader({ threads: 1 });
  });
  afterAll(() => reader?.dispose());

  it('compares quoted and sign-like text with what OCR really read', async () => {
    // Prepare: OCR on the rendered "GRAND OPENING SALE" sign.
    const rendered = await renderTextImage(textImage('clearHeading'));
    const text = await reader.read(rendered.rgb);
    const record = recordWith({
      text,
      caption: 'a sign that says Grand Opening Sale',
      detailedDescription: 'a poster with the words "closing down" in large letters',
    });

    // Act
    const checks = checkConsistency(record).filter((c) => c.kind === 'text');

    // Assess
    expect(text.full).toBe('GRAND OPENING SALE');
    expect(checks.map((c) => [c.field, c.verdict])).toEqual([
      ['caption', 'consistent'],
      ['detailedDescription', 'contradicted'],
    ]);
    expect(checks[1]?.evidence).toBe('OCR text "GRAND OPENING SALE"');
  });

  it('text claims without OCR are unverifiable; with OCR that found nothing, contradicted', () => {
    const caption = 'a shop window with a sign reading "OPEN"';
    expect(checkConsistency(recordWith({ caption })).map((c) => c.verdict)).toEqual(['unverifiable']);
    const none = recordWith({ caption, text: { full: '', lines: [] } });
    expect(checkConsistency(none).map((c) => [c.evidence, c.verdict])).toEqual([
      ['OCR found no text', 'contradicted'],
    ]);
  });

  it('extracts quoted text, and unquoted text only while it is capitalised', () => {
    expect(textClaims('a sign that says STOP here').map((c) => c.quoted)).toEqual(['STOP']);
    expect(textClaims('the label reads “Best before June”').map((c) => c.quoted)).toEqual([
      'Best before June',
    ]);
    expect(textClaims('a man says hello to a dog')).toEqual([]);
    // One OCR misread in nine letters is still the same text.
    expect(substringEditDistance('openlate', 'weareopen1atetoday')).toBe(1);
  });
});

describe('consistency guard: objects and counts against the detector', () => {
  it('flags invented people and wrong counts once a detector ran', () => {
    const record = recordWith({
      objects: objects('dog', 'dog', 'bicycle'),
      caption: 'two dogs next to a bike',
      detailedDescription: 'children playing with three dogs',
    });

    const checks = checkConsistency(record).map((c) => [c.field, c.kind, c.claim, c.verdict]);

    expect(checks).toEqual([
      ['caption', 'count', 'two dogs', 'consistent'],
      ['caption', 'object', 'to a bike', 'consistent'],
      ['detailedDescription', 'object', 'children', 'contradicted'],
      ['detailedDescription', 'count', 'with three dogs', 'contradicted'],
    ]);
  });

  it('object claims without a detector are unverifiable', () => {
    const checks = checkConsistency(recordWith({ caption: 'a cat on a sofa' }));
    expect(checks.map((c) => [c.claim, c.verdict])).toEqual([
      ['a cat', 'unverifiable'],
      ['on a sofa', 'unverifiable'],
    ]);
    expect(objectClaims('a photo of 3 puppies')).toEqual([
      { label: 'dog', noun: 'puppies', count: 3, phrase: 'of 3 puppies' },
    ]);
  });
});
