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

/** Greedy CTC decoding of one [steps × classes] slice: argmax, collapse repeats, drop blanks. */
export function ctcGreedyDecode(
  probs: Float32Array,
  offset: number,
  steps: number,
  classes: number,
  alphabet: readonly string[],
): Decoded {
  let text = '';
  let sum = 0;
  let kept = 0;
  let previous = -1;
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
    if (best !== 0 && best !== previous) {
      text += alphabet[best] ?? '';
      sum += bestP;
      kept++;
    }
    previous = best;
  }
  return { text, confidence: kept === 0 ? 0 : sum / kept };
}
