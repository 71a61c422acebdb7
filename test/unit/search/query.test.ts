import { describe, expect, it } from 'vitest';
import {
  DEFAULT_COLOUR_MIN_FRACTION,
  parseSearchQuery,
  SEARCH_LIMITS,
  SearchQueryError,
} from '#engine/search/query.ts';

describe('parseSearchQuery', () => {
  it('reads URL parameters into the query model', () => {
    const query = parseSearchQuery(
      new URLSearchParams(
        'q=Red+Dogs&colour=red&label=Dog&hasText=false&from=2026-11-01&to=2026-11-02&detailed=done&sort=date&limit=5',
      ),
    );
    expect(query).toMatchObject({
      text: 'Red Dogs',
      terms: ['red', 'dog'],
      colours: [{ family: 'red', minFraction: DEFAULT_COLOUR_MIN_FRACTION }],
      labels: ['dog'],
      hasText: false,
      uploaded: { from: '2026-11-01T00:00:00.000Z', before: '2026-11-03T00:00:00.000Z' },
      state: { detailed: 'done' },
      sort: 'date',
      limit: 5,
      offset: 0,
    });
  });

  it('defaults: relevance with words, date without, and the default page size', () => {
    expect(parseSearchQuery({ q: 'dog' })).toMatchObject({
      sort: 'relevance',
      limit: SEARCH_LIMITS.defaultLimit,
    });
    expect(parseSearchQuery({})).toMatchObject({ sort: 'date', terms: [] });
  });

  it('says which parameter is wrong and what it expected', () => {
    expect(() => parseSearchQuery({ colour: 'teal' })).toThrow(
      'Expected a colour family (red, orange, yellow, green, blue, purple, pink, brown, black, white, gray), or one with light or dark (e.g. "light blue") for colour but received "teal"',
    );
    expect(() => parseSearchQuery({ limit: '500' })).toThrow(/for limit but received "500"/);
  });

  it('never throws anything but SearchQueryError, whatever the input', () => {
    // Deterministic noise from characters that break naive parsers and SQL.
    const alphabet = [
      '%',
      '_',
      "'",
      '"',
      '\\',
      ';',
      '--',
      ' ',
      'é',
      '日',
      '🙂',
      '\u0000',
      'a',
      'OR',
      '1',
      ',',
      '\ud800',
    ];
    let seed = 7;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed;
    };
    const names = [
      'q',
      'colour',
      'colourMin',
      'label',
      'category',
      'hasText',
      'from',
      'to',
      'fast',
      'sort',
      'limit',
      'cursor',
    ];
    for (let i = 0; i < 800; i += 1) {
      const value = Array.from({ length: next() % 12 }, () => alphabet[next() % alphabet.length]).join('');
      const name = names[next() % names.length] as string;
      try {
        parseSearchQuery({ [name]: value });
      } catch (error) {
        expect(error, `${name}=${JSON.stringify(value)}`).toBeInstanceOf(SearchQueryError);
      }
    }
  });
});
