import { describe, expect, it } from 'vitest';
import {
  answerWords,
  captionTokensForScoring,
  categoryWords,
  colourClaimWords,
  guardWords,
  searchTerms,
  wordRuns,
} from '#engine/words.ts';

/**
 * The word splitters share one core and differ where their meanings do. Each case below is a
 * difference on purpose: the same text, split by each helper, with the reason it must differ.
 */
describe('one word splitter per meaning', () => {
  it('all split into runs of word characters (the shared core)', () => {
    expect(wordRuns('a red, round sign', /[a-z]+/g)).toEqual(['a', 'red', 'round', 'sign']);
    expect(wordRuns('...', /[a-z]+/g)).toEqual([]);
  });

  it('only search folds plurals: "Boxes" finds a box, while an answer or a claim is compared as written', () => {
    expect(searchTerms('Boxes')).toEqual(['box']);
    expect(answerWords('Boxes')).toBe('boxes');
    expect(categoryWords('Boxes')).toBe('boxes');
    expect(guardWords('Boxes')).toEqual(['boxes']);
    expect(captionTokensForScoring('Boxes')).toEqual(['boxes']);
  });

  it('answers and caption scoring keep a decimal number whole; search, categories and the guard split it', () => {
    const text = 'It is 3.5 m';
    expect(answerWords(text)).toBe('it is 3.5 m');
    expect(captionTokensForScoring(text)).toEqual(['it', 'is', '3.5', 'm']);
    expect(searchTerms(text)).toEqual(['it', 'is', '3', '5', 'm']);
    expect(categoryWords(text)).toBe('it is 3 5 m');
    expect(guardWords(text)).toEqual(['it', 'is', '3', '5', 'm']);
  });

  it('apostrophes: search joins them, caption scoring splits clitics off as PTB does, colour claims keep them', () => {
    expect(searchTerms("don't")).toEqual(['dont']);
    expect(captionTokensForScoring("the dog's bowl.")).toEqual(['the', 'dog', "'s", 'bowl']);
    expect(colourClaimWords("don't")).toEqual(["don't"]);
    expect(guardWords("don't")).toEqual(['don', 't']);
    expect(answerWords("don't")).toBe('don t');
  });

  it('a colour claim keeps hyphenated words whole ("red-brown" is no claim of red), object mentions do not', () => {
    const text = 'a blue-ish, red-brown cat';
    expect(colourClaimWords(text)).toEqual(['a', 'blue-ish', 'red-brown', 'cat']);
    expect(guardWords(text)).toEqual(['a', 'blue', 'ish', 'red', 'brown', 'cat']);
    expect(captionTokensForScoring(text)).toEqual(['a', 'blue-ish', 'red-brown', 'cat']);
  });

  it('accents: search, answers and categories fold them; caption scoring keeps them; the guard reads ASCII words only', () => {
    expect(searchTerms('Café')).toEqual(['cafe']);
    expect(answerWords('Café')).toBe('cafe');
    expect(categoryWords('Café')).toBe('cafe');
    expect(captionTokensForScoring('Café')).toEqual(['café']);
    expect(guardWords('Café')).toEqual(['caf']);
  });

  it('answers and categories keep the combining marks of other scripts inside the word', () => {
    expect(categoryWords('नमस्ते दुनिया')).toBe('नमस्ते दुनिया');
    expect(answerWords('नमस्ते दुनिया')).toBe('नमस्ते दुनिया');
    expect(guardWords('नमस्ते')).toEqual([]);
  });
});
