import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_COLOUR_MIN_FRACTION,
  SEARCH_FIELD_WEIGHTS,
  SEARCH_LIMITS,
  SEARCH_PARAMETERS,
} from '#engine/search/query.ts';
import { STOP_WORDS } from '#engine/search/text.ts';

/** docs/search.md states the query model's defaults; these fail when code and page drift apart. */
const doc = await readFile(new URL('../../../docs/search.md', import.meta.url), 'utf8');

describe('docs/search.md', () => {
  it('states the limits and defaults the parser uses', () => {
    expect(doc).toContain(`1 to ${SEARCH_LIMITS.maxLimit}, default ${SEARCH_LIMITS.defaultLimit}`);
    expect(doc).toContain(`default ${DEFAULT_COLOUR_MIN_FRACTION}.`);
    expect(doc).toContain(
      `At most ${SEARCH_LIMITS.maxQueryLength} characters and ${SEARCH_LIMITS.maxTerms} distinct words`,
    );
    expect(doc).toContain([...STOP_WORDS].join(' '));
  });

  it('lists every field with its weight, and every parameter', () => {
    for (const [field, weight] of Object.entries(SEARCH_FIELD_WEIGHTS)) {
      expect(doc).toContain(`| ${field} | ${weight} |`);
    }
    for (const name of SEARCH_PARAMETERS) expect(doc).toContain(`\`${name}\``);
  });
});
