import { ngramCounts, type ScoredPair } from './bleu.ts';

/**
 * CIDEr-D (Vedantam, Zitnick and Parikh 2015, "CIDEr: Consensus-based Image Description
 * Evaluation"), computed as pycocoevalcap's CiderScorer / vrama91's ciderD_scorer.py with
 * df_mode "corpus":
 *
 * - each sentence becomes TF-IDF vectors of its 1- to 4-grams, g(w) = tf(w) · (log N − log max(1, df(w))),
 *   where N is the number of images and df(w) the number of images whose references contain w;
 * - per n, the candidate's similarity to each reference is Σ min(g_c, g_r) · g_r / (|g_c| · |g_r|)
 *   (the "-D" clipping), times the gaussian length penalty exp(−(l_c − l_r)² / (2σ²)), σ = 6;
 * - an image's score is the mean over n of the similarities averaged over its references, × 10;
 *   the corpus score is the mean over images.
 *
 * Because the IDF comes from the evaluated references themselves, an n-gram in every image's
 * references weighs nothing, and a corpus of one image always scores 0.
 */

export interface CiderDResult {
  readonly score: number;
  /** Per pair, in input order. */
  readonly perImage: readonly number[];
}

interface Vector {
  readonly weights: ReadonlyArray<Map<string, number>>;
  readonly norms: readonly number[];
  readonly length: number;
}

/** pycocoevalcap's defaults: n-grams up to 4, gaussian length penalty σ = 6. */
export const CIDER_D_DEFAULTS = { n: 4, sigma: 6 } as const;

export function ciderD(
  pairs: readonly ScoredPair[],
  options: { n?: number; sigma?: number } = {},
): CiderDResult | undefined {
  const maxN = options.n ?? CIDER_D_DEFAULTS.n;
  const sigma = options.sigma ?? CIDER_D_DEFAULTS.sigma;
  if (pairs.length === 0) return undefined;

  const documentFrequency = new Map<string, number>();
  for (const { references } of pairs) {
    const seen = new Set<string>();
    for (const reference of references)
      for (let n = 1; n <= maxN; n++)
        for (const gram of ngramCounts(reference, n).keys()) seen.add(`${n}:${gram}`);
    for (const gram of seen) documentFrequency.set(gram, (documentFrequency.get(gram) ?? 0) + 1);
  }
  const logImages = Math.log(pairs.length);

  const vectorOf = (tokens: readonly string[]): Vector => {
    const weights: Array<Map<string, number>> = [];
    const norms: number[] = [];
    for (let n = 1; n <= maxN; n++) {
      const vector = new Map<string, number>();
      let squares = 0;
      for (const [gram, tf] of ngramCounts(tokens, n)) {
        const df = documentFrequency.get(`${n}:${gram}`) ?? 0;
        const weight = tf * (logImages - Math.log(Math.max(1, df)));
        vector.set(gram, weight);
        squares += weight * weight;
      }
      weights.push(vector);
      norms.push(Math.sqrt(squares));
    }
    // pycocoevalcap measures length in bigrams; the difference is the same as in words.
    return { weights, norms, length: tokens.length };
  };

  const similarity = (candidate: Vector, reference: Vector): number[] => {
    const delta = candidate.length - reference.length;
    const penalty = Math.exp(-(delta * delta) / (2 * sigma * sigma));
    return candidate.weights.map((vector, k) => {
      const referenceVector = reference.weights[k] as Map<string, number>;
      let dot = 0;
      for (const [gram, weight] of vector) {
        const referenceWeight = referenceVector.get(gram) ?? 0;
        dot += Math.min(weight, referenceWeight) * referenceWeight;
      }
      const norms = (candidate.norms[k] as number) * (reference.norms[k] as number);
      return (norms !== 0 ? dot / norms : dot) * penalty;
    });
  };

  const perImage = pairs.map(({ candidate, references }) => {
    const candidateVector = vectorOf(candidate);
    const sums = new Array<number>(maxN).fill(0);
    for (const reference of references) {
      similarity(candidateVector, vectorOf(reference)).forEach((value, k) => {
        sums[k] = (sums[k] as number) + value;
      });
    }
    const meanOverN = sums.reduce((a, b) => a + b, 0) / maxN;
    return (meanOverN / references.length) * 10;
  });
  return { score: perImage.reduce((a, b) => a + b, 0) / perImage.length, perImage };
}
