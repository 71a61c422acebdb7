import { describe, expect, it } from 'vitest';
import { checkConsistency } from '#engine/guard/check.ts';
import { canonicalObject, colourClaims, objectClaims } from '#engine/guard/claims.ts';
import type { DetectedObject } from '#engine/record/schema.ts';
import { recordWith } from './support.ts';

const box = { x: 0.1, y: 0.1, width: 0.2, height: 0.2 };
const objects = (...labels: string[]): DetectedObject[] => labels.map((label) => ({ label, box }));
const palette = [{ hex: '#ff0000', name: 'Red', family: 'red' as const, fraction: 1 }];

/** The object and count checks of `caption` against detector boxes of `labels`: [claim, verdict]. */
function objectVerdicts(caption: string, ...labels: string[]) {
  return checkConsistency(recordWith({ caption, objects: objects(...labels) }))
    .filter((c) => c.kind === 'object' || c.kind === 'count')
    .map((c) => [c.claim, c.verdict]);
}

describe('claims: words that are names of Object properties', () => {
  const inherited = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'];

  it.each(inherited)('"%s" is no colour, no object and no count', (word) => {
    const caption = `the ${word} of the bridge, ${word} dogs and a ${word}`;

    expect(colourClaims(caption)).toEqual([]);
    expect(canonicalObject(word)).toBeUndefined();
    expect(objectClaims(caption).map((c) => [c.label, c.noun, c.count])).toEqual([
      ['dog', 'dogs', undefined],
    ]);
  });

  it('a caption naming "the constructor of the bridge" is checked without throwing', () => {
    const record = recordWith({
      caption: 'the constructor of the red bridge',
      colours: palette,
      objects: objects('constructor'),
    });

    expect(checkConsistency(record, 'fast').map((c) => [c.claim, c.verdict])).toEqual([
      ['red ("of the red bridge")', 'consistent'],
    ]);
  });
});

describe('claims: COCO classes of two words', () => {
  it('"a teddy bear on a bed" claims a teddy bear, not a bear', () => {
    expect(objectVerdicts('a teddy bear on a bed', 'teddy bear', 'bed')).toEqual([
      ['a teddy bear', 'consistent'],
      ['on a bed', 'consistent'],
    ]);
    expect(objectVerdicts('a hot dog on a plate', 'hot dog')).toEqual([['a hot dog', 'consistent']]);
  });

  it.each([
    ['traffic light', 'traffic lights'],
    ['fire hydrant', 'fire hydrants'],
    ['stop sign', 'stop signs'],
    ['parking meter', 'parking meters'],
    ['sports ball', 'sports balls'],
    ['baseball bat', 'baseball bats'],
    ['baseball glove', 'baseball gloves'],
    ['tennis racket', 'tennis rackets'],
    ['wine glass', 'wine glasses'],
    ['cell phone', 'cell phones'],
    ['hair drier', 'hair driers'],
    ['potted plant', 'potted plants'],
    ['dining table', 'dining tables'],
    ['teddy bear', 'teddy bears'],
    ['hot dog', 'hot dogs'],
  ])('the class %s is counted in "two %s"', (label, plural) => {
    expect(objectClaims(`two ${plural} in a row`)).toEqual([
      { label, noun: plural, count: 2, phrase: `two ${plural}` },
    ]);
    expect(canonicalObject(label)).toBe(label);
  });

  it('plurals of words ending in s are nouns too ("two buses")', () => {
    expect(objectVerdicts('two buses on a street', 'bus', 'bus')).toEqual([['two buses', 'consistent']]);
  });
});

describe('claims: counts over several nouns of one class', () => {
  it('"two men and a woman" is three people', () => {
    expect(objectVerdicts('two men and a woman on a bench', 'person', 'person', 'person', 'bench')).toEqual([
      ['two men + and a woman', 'consistent'],
      ['on a bench', 'consistent'],
    ]);
    expect(objectVerdicts('two men and a woman', 'person', 'person')).toEqual([
      ['two men + and a woman', 'contradicted'],
    ]);
  });

  it('a noun naming the whole group is not added to its parts ("three people: two men and a woman")', () => {
    expect(
      objectVerdicts('There are three people: two men and a woman.', 'person', 'person', 'person'),
    ).toEqual([['are three people + people two men + and a woman', 'consistent']]);
  });

  it('with the class also named without a count, more boxes are unverifiable, fewer still contradicted', () => {
    const caption = 'two men talking to the children';
    expect(objectVerdicts(caption, 'person', 'person', 'person', 'person')).toEqual([
      ['two men', 'unverifiable'],
    ]);
    expect(objectVerdicts(caption, 'person')).toEqual([['two men', 'contradicted']]);
    // The same noun again is no further mention: "the dog" is one of the two dogs.
    expect(objectVerdicts('two dogs play; the dogs are brown', 'dog', 'dog', 'dog')).toEqual([
      ['two dogs', 'contradicted'],
    ]);
  });
});

describe('claims: denied objects are no mentions', () => {
  it.each([
    'there is no dog',
    'No, there is no dog in the image.',
    'an empty street without a car',
    'none of the people',
    'not a cat',
    "there isn't a bike here",
    'there are no cats or dogs',
    'no two dogs are alike',
  ])('"%s" claims no object', (caption) => {
    expect(objectClaims(caption)).toEqual([]);
    expect(objectVerdicts(caption)).toEqual([]);
  });

  it('a negation reaches only its own sentence, and a reply\'s leading "No," denies nothing', () => {
    expect(objectClaims('No dog. A cat sleeps on the sofa.').map((c) => c.label)).toEqual(['cat', 'couch']);
    expect(objectClaims('No, a dog is on the sofa.').map((c) => c.label)).toEqual(['dog', 'couch']);
    expect(objectClaims('not a dog but a cat').map((c) => c.label)).toEqual(['cat']);
  });
});

describe('claims: the same noun again is the same things', () => {
  it('"Two men sit. A man on the left reads." is two people, not three', () => {
    expect(
      objectVerdicts('Two men sit on a bench. A man on the left reads.', 'person', 'person', 'bench'),
    ).toEqual([
      ['two men', 'consistent'],
      ['on a bench', 'consistent'],
    ]);
    expect(objectClaims('three people and a person').map((c) => c.count)).toEqual([3]);
  });
});
