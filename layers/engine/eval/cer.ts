/** Whitespace (including line breaks) collapsed to single spaces, ends trimmed: OCR joins lines with newlines. */
export const normaliseText = (text: string) => text.replace(/\s+/g, ' ').trim();

/** Levenshtein distance (insertions, deletions, substitutions each cost 1) over code points. */
export function editDistance(a: readonly string[], b: readonly string[]): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

export interface TextComparison {
  readonly edits: number;
  readonly referenceLength: number;
}

/** Edits needed to turn the text read into the expected text (case kept, whitespace collapsed). */
export function compareText(read: string, expected: string): TextComparison {
  const reference = [...normaliseText(expected)];
  return { edits: editDistance([...normaliseText(read)], reference), referenceLength: reference.length };
}

/**
 * Corpus character error rate: total edits over total expected characters (so long texts weigh
 * more than short ones). Undefined when no expected text has any character.
 */
export function characterErrorRate(comparisons: readonly TextComparison[]): number | undefined {
  const referenceLength = comparisons.reduce((sum, c) => sum + c.referenceLength, 0);
  if (referenceLength === 0) return undefined;
  return comparisons.reduce((sum, c) => sum + c.edits, 0) / referenceLength;
}
