import { describe, expect, test } from 'vitest';
import { cleanModelOutput } from '#engine/models/runners/clean-output.ts';

describe('cleanModelOutput', () => {
  test.each([
    ['Florence-2 special tokens', '</s><s>A cat on a sofa.</s><pad><pad>', {}, 'A cat on a sofa.'],
    ['a Florence-2 task token echoed', '<CAPTION> a dog running', {}, 'a dog running'],
    ['location bins', 'a car<loc_12><loc_40><loc_200><loc_300>', {}, 'a car'],
    ['GPT-2 end of text', 'a red square<|endoftext|>', {}, 'a red square'],
    [
      'a SmolVLM chat transcript with the prompt',
      'User:<fake_token_around_image><global-img><image><fake_token_around_image>Describe this image.<end_of_utterance>\nAssistant: A kitchen with a\n  window.<end_of_utterance>',
      { prompt: 'Describe this image.' },
      'A kitchen with a window.',
    ],
    ['ChatML end token', 'A beach at dusk.<|im_end|>', {}, 'A beach at dusk.'],
    [
      'the prompt echoed at the start',
      'Describe this image in detail. A red bus.',
      { prompt: 'Describe this image in detail.' },
      'A red bus.',
    ],
    ['tile markers', '<row_1_col_1> a map <row_1_col_2>', {}, 'a map'],
    ['runs of whitespace and newlines', '  two\t\tbirds \n on   a wire  ', {}, 'two birds on a wire'],
    ['nothing but tokens', '</s><s></s>', {}, ''],
  ])('removes %s', (_case, raw, options, cleaned) => {
    expect(cleanModelOutput(raw, options)).toBe(cleaned);
  });

  test('keeps ordinary words that merely contain token-like text', () => {
    expect(cleanModelOutput('a sign reading <open> and 3 < 4', {})).toBe('a sign reading <open> and 3 < 4');
  });
});
