import { readFileSync } from 'node:fs';
import { ModelLoadError } from '../errors.ts';

/**
 * The recogniser's alphabet as PaddleOCR builds it: index 0 is the CTC blank, then one entry per
 * line of the key file, then the space character (use_space_char).
 */
export function loadAlphabet(keysPath: string, expectedClasses: number): string[] {
  const keys = readFileSync(keysPath, 'utf8')
    .split('\n')
    .map((line) => line.replace(/\r$/, ''));
  if (keys.at(-1) === '') keys.pop();
  const alphabet = ['', ...keys, ' '];
  if (alphabet.length !== expectedClasses) {
    throw new ModelLoadError(
      `Expected ${expectedClasses - 2} characters in ${keysPath} but received ${keys.length}`,
    );
  }
  return alphabet;
}

export interface Decoded {
  readonly text: string;
  /** Mean probability of the characters kept (0 when none). */
  readonly confidence: number;
}

/**
 * Greedy CTC decoding of one [steps × classes] slice: argmax, collapse repeats, drop blanks.
 *
 * The Chinese PP-OCRv4 recogniser often lets a blank win over the space between two English
 * words (mono fonts, small print); the space class still rises there (0.1–0.45) while it stays
 * near 0 inside words. With `spaceThreshold` set, a space is put back between two characters when
 * the space probability in the blanks between them reached the threshold.
 */
export function ctcGreedyDecode(
  probs: Float32Array,
  offset: number,
  steps: number,
  classes: number,
  alphabet: readonly string[],
  spaceThreshold = Number.POSITIVE_INFINITY,
): Decoded {
  const space = alphabet.length - 1;
  let text = '';
  let sum = 0;
  let kept = 0;
  let previous = -1;
  let spaceSeen = 0;
  for (let t = 0; t < steps; t++) {
    const row = offset + t * classes;
    let best = 0;
    let bestP = probs[row] as number;
    for (let k = 1; k < classes; k++) {
      const p = probs[row + k] as number;
      if (p > bestP) {
        bestP = p;
        best = k;
      }
    }
    if (best === 0) {
      const p = probs[row + space] as number;
      if (p > spaceSeen) spaceSeen = p;
    } else if (best !== previous) {
      if (best !== space && spaceSeen >= spaceThreshold && text !== '' && !text.endsWith(' ')) text += ' ';
      spaceSeen = 0;
      text += alphabet[best] ?? '';
      sum += bestP;
      kept++;
    }
    previous = best;
  }
  return { text, confidence: kept === 0 ? 0 : sum / kept };
}
