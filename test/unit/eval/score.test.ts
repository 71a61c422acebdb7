import { describe, expect, it } from 'vitest';
import type { ReferenceLine } from '#engine/eval/references.ts';
import { answerMatches, type EvalResult, scoreResults } from '#engine/eval/score.ts';
import { failedRecord, newRecord } from '#engine/record/record.ts';
import type { Answer, DescriptionRecord } from '#engine/record/schema.ts';

const NOW = new Date('2026-01-01T00:00:00Z');
const MODEL = {
  id: 'fixtures/vlm',
  revision: 'r1',
  architecture: 'smolvlm',
  dtype: 'fp32',
  promptHash: 'abc',
};

/** A described record (both stages done) with the given fields. */
function described(fields: Partial<DescriptionRecord>): DescriptionRecord {
  const base = newRecord({ kind: 'file', path: 'x.png', size: 1 }, NOW);
  const done = { state: 'done' as const, updatedAt: NOW.toISOString() };
  return { ...base, status: { fast: done, detailed: done }, ...fields };
}

const answer = (value: Answer['value'], error?: Answer['error']): Answer => ({
  value,
  raw: String(value),
  model: MODEL,
  ...(error ? { error } : {}),
});

const result = (reference: ReferenceLine, record: DescriptionRecord, wallMs = 10): EvalResult => ({
  reference,
  record,
  wallMs,
});

const check = (verdict: 'consistent' | 'contradicted' | 'unverifiable') => ({
  kind: 'colour' as const,
  field: 'caption',
  claim: 'red',
  evidence: 'palette: red 100%',
  verdict,
});

describe('scoring records against references', () => {
  it('scores a right caption high and a wrong one low, per image', () => {
    const metrics = scoreResults([
      result({ file: 'red.png', captions: ['A red square.'] }, described({ caption: 'a red square' })),
      result({ file: 'green.png', captions: ['a green square'] }, described({ caption: 'a green square' })),
      result({ file: 'blue.png', captions: ['a yellow circle'] }, described({ caption: 'a blue square' })),
    ]);

    const [red, , blue] = metrics.perImage;
    expect(red?.ciderD).toBeGreaterThan(1);
    expect(blue?.ciderD).toBeLessThan(red?.ciderD as number);
    expect(metrics.bleu4.value).toBeGreaterThan(0);
    expect(metrics.bleu4.value).toBeLessThan(1);
    expect(metrics.ciderD.scored).toBe(3);
  });

  it('gives BLEU-4 of 1 when every caption equals a reference', () => {
    const metrics = scoreResults([
      result(
        { file: 'a.png', captions: ['a red square on white'] },
        described({ caption: 'A red square on white.' }),
      ),
    ]);

    expect(metrics.bleu4.value).toBeCloseTo(1, 8);
  });

  it('says n/a (null), not 0, for metrics without references, and leaves out fields a model set does not produce', () => {
    const metrics = scoreResults([
      result(
        { file: 'a.png', categories: ['toys'], answers: { colour: 'red' } },
        described({ caption: 'x' }),
      ),
    ]);

    expect(metrics.ciderD).toEqual({ value: null, scored: 0, notProduced: 0 });
    expect(metrics.ocrCer.value).toBeNull();
    expect(metrics.categoryAccuracy).toEqual({ value: null, scored: 0, notProduced: 1 });
    expect(metrics.answerAccuracy).toEqual({ value: null, scored: 0, notProduced: 1 });
    expect(metrics.checks.contradictedPer100Images).toBeNull();
  });

  it('scores a failed image as empty for every metric it has references for', () => {
    const failed = failedRecord(
      newRecord({ kind: 'file', path: 'bad.png', size: 0 }, NOW),
      'fast',
      new Error('broken'),
      NOW,
    );
    const metrics = scoreResults([
      result({ file: 'ok.png', captions: ['a red square'] }, described({ caption: 'a red square' })),
      result({ file: 'bad.png', captions: ['a red square'], text: 'OPEN', categories: [] }, failed),
    ]);

    expect(metrics.ciderD.scored).toBe(2);
    expect(metrics.perImage[1]?.ciderD).toBe(0);
    expect(metrics.ocrCer.value).toBe(1);
    expect(metrics.categoryAccuracy).toMatchObject({ value: 1, scored: 1 });
    expect(metrics.perImage[1]?.failed).toContain('broken');
    expect(metrics.latencyMs['wall.perImageMs']?.n).toBe(1);
  });

  it('computes CER over all expected characters', () => {
    const text = (full: string) => ({ full, lines: [] });
    const metrics = scoreResults([
      result({ file: 'a.png', text: 'Fresh bread' }, described({ text: text('Fresh bread') })),
      result({ file: 'b.png', text: 'OPEN' }, described({ text: text('0PEN') })),
    ]);

    expect(metrics.ocrCer.value).toBeCloseTo(1 / 15, 12);
    expect(metrics.perImage[1]?.cer).toBe(0.25);
  });

  it('counts category sets that match exactly, an empty list meaning none', () => {
    const match = (id: string) => ({ id, score: 0.9, evidence: [] });
    const metrics = scoreResults([
      result({ file: 'a.png', categories: ['toys'] }, described({ categories: [match('toys')] })),
      result({ file: 'b.png', categories: [] }, described({ categories: [] })),
      result(
        { file: 'c.png', categories: ['toys'] },
        described({ categories: [match('toys'), match('food')] }),
      ),
      result({ file: 'd.png', categories: ['food'] }, described({ categories: [] })),
    ]);

    expect(metrics.categoryAccuracy).toEqual({ value: 0.5, scored: 4, notProduced: 0 });
  });

  it('counts answers, including wrong, errored and unasked ones', () => {
    const metrics = scoreResults([
      result(
        { file: 'a.png', answers: { colour: 'Red', people: false, count: 2, sign: 'open' } },
        described({
          answers: {
            colour: answer('red.'),
            people: answer(false),
            count: answer(3),
            sign: answer(undefined, { code: 'WRONG_TYPE', message: 'not text' }),
          },
        }),
      ),
      result({ file: 'b.png', answers: { colour: 'blue' } }, described({ answers: {} })),
    ]);

    expect(metrics.answerAccuracy).toEqual({ value: 2 / 5, scored: 5, notProduced: 0 });
  });

  it('counts check verdicts and contradicted claims per 100 images', () => {
    const metrics = scoreResults([
      result({ file: 'a.png' }, described({ checks: [check('contradicted'), check('consistent')] })),
      result({ file: 'b.png' }, described({ checks: [check('unverifiable')] })),
      result({ file: 'c.png' }, described({ checks: [] })),
      result({ file: 'd.png' }, described({ checks: [check('contradicted'), check('contradicted')] })),
    ]);

    expect(metrics.checks).toEqual({
      contradictedPer100Images: 75,
      images: 4,
      imagesWithContradiction: 2,
      contradicted: 3,
      consistent: 1,
      unverifiable: 1,
    });
  });

  it('summarises each stage timing at p50 and p95', () => {
    const timed = (captionMs: number) => described({ timings: { fast: { captionMs } } });
    const metrics = scoreResults(
      [10, 20, 30, 40, 50].map((ms, i) => result({ file: `${i}.png` }, timed(ms), ms)),
    );

    expect(metrics.latencyMs['fast.captionMs']).toEqual({ p50: 30, p95: 48, n: 5 });
    expect(metrics.latencyMs['wall.perImageMs']?.p50).toBe(30);
  });
});

describe('answer matching', () => {
  it.each([
    ['yes', true, true],
    [true, 'Yes', true],
    [false, 'yes', false],
    [3, '3', true],
    [3, 3.5, false],
    ['A dog', 'a  dog!', true],
    ['red', undefined, false],
  ] as const)('expected %j, answered %j → %s', (expected, got, matches) => {
    expect(answerMatches(expected, got === undefined ? undefined : answer(got))).toBe(matches);
  });
});
