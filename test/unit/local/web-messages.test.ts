import { describe, expect, it } from 'vitest';
import { sentSummary } from '../../../functions/local/web/messages.js';

describe('the page notice after a drop', () => {
  it.each([
    [4, 4, '4 files sent; the cards below update as descriptions arrive.'],
    [1, 1, '1 file sent; the cards below update as descriptions arrive.'],
    [
      2,
      4,
      '2 files sent; 2 of 4 were not sent: their cards say why. The cards below update as descriptions arrive.',
    ],
    [
      2,
      3,
      '2 files sent; 1 of 3 was not sent: its card says why. The cards below update as descriptions arrive.',
    ],
    [0, 2, 'No file sent: their cards say why.'],
    [0, 1, 'No file sent: its card says why.'],
  ])('%i of %i sent: "%s"', (sent, total, notice) => {
    expect(sentSummary(sent, total)).toBe(notice);
  });
});
