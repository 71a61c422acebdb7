import { describe, expect, it } from 'vitest';
import { foldPlural, surfaceForms } from '#engine/search/text.ts';
import { foldPhrase, searchQueryTerms, searchTerms } from '#engine/words.ts';

describe('search text folding', () => {
  it('splits on anything that is not a letter or digit, folding case and accents', () => {
    expect(searchTerms('Café OPEN-24_hours, naïve "Zoë"')).toEqual([
      'cafe',
      'open',
      '24',
      'hour',
      'naive',
      'zoe',
    ]);
  });

  it('keeps words whole: "Desired Dawn" holds no "red"', () => {
    expect(searchTerms('Desired Dawn')).toEqual(['desired', 'dawn']);
  });

  it('folds simple English plurals and leaves short words and codes alone', () => {
    const cases: Record<string, string> = {
      dogs: 'dog',
      boxes: 'box',
      berries: 'berry',
      glasses: 'glass',
      churches: 'church',
      hours: 'hour',
      bus: 'bus',
      gas: 'gas',
      glass: 'glass',
      status: 'status',
      analysis: 'analysis',
      a4s: 'a4s',
    };
    for (const [word, folded] of Object.entries(cases)) expect(foldPlural(word), word).toBe(folded);
  });

  it('joins apostrophes instead of splitting off a lone letter', () => {
    expect(searchTerms("don't O’Brien's")).toEqual(['dont', 'obrien']);
  });

  it('drops stop words and repeats from a query', () => {
    expect(searchQueryTerms('the Dogs and the dog')).toEqual(['dog']);
  });

  it('compares labels as whole phrases', () => {
    expect(foldPhrase('Traffic Lights')).toBe(foldPhrase('traffic light'));
  });

  it('lists the surface words of a term, each of which folds back to it', () => {
    expect(surfaceForms('dog')).toEqual(['dog', 'dogs']);
    expect(surfaceForms('box')).toEqual(['box', 'boxs', 'boxes']);
    expect(surfaceForms('berry')).toEqual(['berry', 'berrys', 'berries']);
    for (const term of ['dog', 'box', 'berry', 'glass', 'hour', '24']) {
      for (const form of surfaceForms(term)) expect(searchTerms(form)).toEqual([term]);
    }
  });

  it('folds Latin and Greek accents but keeps other scripts as written', () => {
    expect(searchTerms('Новый Αθήνα ΟΔΟΣ 한국 がっこう Brand™ ﬁsh Cafe\u0301')).toEqual([
      'новый',
      'αθηνα',
      'οδοσ',
      '한국',
      'がっこう',
      'brand',
      'fish',
      'cafe',
    ]);
  });
});
