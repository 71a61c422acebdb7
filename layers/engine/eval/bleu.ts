/**
 * Corpus BLEU (Papineni et al. 2002, "BLEU: a method for automatic evaluation of machine
 * translation"), computed as pycocoevalcap's BleuScorer does with option "closest":
 *
 * - modified n-gram precision: each candidate n-gram count is clipped by its largest count in any
 *   one reference; numerators and denominators are summed over the corpus before dividing;
 * - brevity penalty exp(1 − r/c) when c < r, where c is the total candidate length and r the sum
 *   of each candidate's closest reference length (ties go to the shorter reference);
 * - BLEU-n = BP · (p1 · … · pn)^(1/n), with pycocoevalcap's tiny (1e-15) and small (1e-9) terms,
 *   so a corpus with no matching 4-gram gives a tiny positive number rather than 0, as it does.
 */

export interface ScoredPair {
  readonly candidate: readonly string[];
  readonly references: ReadonlyArray<readonly string[]>;
}

export interface BleuResult {
  /** BLEU-1 … BLEU-n; BLEU-4 is `scores[3]`. */
  readonly scores: readonly number[];
  /** Corpus modified precisions p1 … pn. */
  readonly precisions: readonly number[];
  readonly brevityPenalty: number;
  readonly candidateLength: number;
  readonly referenceLength: number;
}

const TINY = 1e-15;
const SMALL = 1e-9;

/** Counts of every n-gram of one length, keyed by the tokens joined with a separator no token holds. */
export function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join('\u0000');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function closestLength(lengths: readonly number[], candidateLength: number): number {
  let best = lengths[0] ?? 0;
  for (const length of lengths) {
    const distance = Math.abs(length - candidateLength);
    const bestDistance = Math.abs(best - candidateLength);
    if (distance < bestDistance || (distance === bestDistance && length < best)) best = length;
  }
  return best;
}

/** Corpus BLEU over candidate/reference pairs; undefined when there is nothing to score. */
export function corpusBleu(pairs: readonly ScoredPair[], maxN = 4): BleuResult | undefined {
  if (pairs.length === 0) return undefined;
  const correct = new Array<number>(maxN).fill(0);
  const guess = new Array<number>(maxN).fill(0);
  let candidateLength = 0;
  let referenceLength = 0;
  for (const { candidate, references } of pairs) {
    if (references.length === 0) throw new RangeError('Expected at least one reference per candidate');
    candidateLength += candidate.length;
    referenceLength += closestLength(
      references.map((r) => r.length),
      candidate.length,
    );
    for (let n = 1; n <= maxN; n++) {
      const maxRef = new Map<string, number>();
      for (const reference of references)
        for (const [gram, count] of ngramCounts(reference, n))
          maxRef.set(gram, Math.max(maxRef.get(gram) ?? 0, count));
      let matched = 0;
      for (const [gram, count] of ngramCounts(candidate, n))
        matched += Math.min(count, maxRef.get(gram) ?? 0);
      correct[n - 1] = (correct[n - 1] as number) + matched;
      guess[n - 1] = (guess[n - 1] as number) + Math.max(0, candidate.length - n + 1);
    }
  }
  const precisions = correct.map((c, k) => (c + TINY) / ((guess[k] as number) + SMALL));
  const ratio = (candidateLength + TINY) / (referenceLength + SMALL);
  const brevityPenalty = ratio < 1 ? Math.exp(1 - 1 / ratio) : 1;
  const scores: number[] = [];
  let product = 1;
  for (let n = 1; n <= maxN; n++) {
    product *= precisions[n - 1] as number;
    scores.push(product ** (1 / n) * brevityPenalty);
  }
  return { scores, precisions, brevityPenalty, candidateLength, referenceLength };
}
