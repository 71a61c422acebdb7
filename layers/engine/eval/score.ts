import type { Answer, AnswerValue, DescriptionRecord } from '../record/schema.ts';
import { captionTokensForScoring } from '../words.ts';
import { corpusBleu, type ScoredPair } from './bleu.ts';
import { characterErrorRate, compareText, type TextComparison } from './cer.ts';
import { ciderD } from './cider-d.ts';
import type { ReferenceLine } from './references.ts';
import { percentile } from './stats.ts';

/** One evaluated image: its references line, the record the engine produced, and the wall time. */
export interface EvalResult {
  readonly reference: ReferenceLine;
  readonly record: DescriptionRecord;
  /** Measured around the engine call(s) for this image, reading the file included. */
  readonly wallMs: number;
}

/**
 * A metric over the lines that give its reference. `value` is null when nothing was scored ("n/a"),
 * never 0. `notProduced` counts images whose record lacks the field although the image was
 * described (the model set or configuration does not produce it): they are left out, not scored 0.
 */
export interface MetricValue {
  readonly value: number | null;
  readonly scored: number;
  readonly notProduced: number;
}

export interface CheckCounts {
  readonly contradictedPer100Images: number | null;
  /** Images whose record has `checks`. */
  readonly images: number;
  readonly imagesWithContradiction: number;
  readonly contradicted: number;
  readonly consistent: number;
  readonly unverifiable: number;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly n: number;
}

export interface EvalMetrics {
  readonly ciderD: MetricValue;
  readonly bleu4: MetricValue;
  /** Shown beside BLEU-4: captions under four words have no 4-grams, so their BLEU-4 is near 0. */
  readonly bleu1: MetricValue;
  /** Character error rate, 0 = perfect (can exceed 1 when much extra text is read). */
  readonly ocrCer: MetricValue;
  /** Share of images whose category ids equal the expected set exactly. */
  readonly categoryAccuracy: MetricValue;
  /** Share of expected answers matched (`scored` counts answers, not images). */
  readonly answerAccuracy: MetricValue;
  readonly checks: CheckCounts;
  /** By `<stage>.<timing>` from record.timings, plus `wall.perImageMs` measured around the engine. */
  readonly latencyMs: Readonly<Record<string, LatencySummary>>;
  readonly perImage: ReadonlyArray<{
    readonly file: string;
    readonly caption?: string;
    readonly ciderD?: number;
    readonly cer?: number;
    readonly failed?: string;
  }>;
}

const isFailed = (record: DescriptionRecord) =>
  record.status.fast.state === 'failed' || record.status.detailed.state === 'failed';

const metric = (value: number | undefined, scored: number, notProduced: number): MetricValue => ({
  value: scored > 0 && value !== undefined ? value : null,
  scored,
  notProduced,
});

function toBoolean(value: AnswerValue): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const text = String(value).trim().toLowerCase();
  if (text === 'yes' || text === 'true') return true;
  if (text === 'no' || text === 'false') return false;
  return undefined;
}

const normaliseAnswer = (value: string) =>
  value
    .toLowerCase()
    .replace(/[.!?,;:]+$/u, '')
    .replace(/\s+/g, ' ')
    .trim();

/**
 * Whether a stored answer matches the expected value: numbers numerically, yes/no as booleans
 * ("yes" = true), other text case- and end-punctuation-insensitively. A missing or errored
 * answer does not match.
 */
export function answerMatches(expected: AnswerValue, answer: Answer | undefined): boolean {
  if (!answer || answer.error || answer.value === undefined) return false;
  const got = answer.value;
  if (typeof expected === 'number') return Number(got) === expected;
  if (typeof expected === 'boolean' || typeof got === 'boolean') {
    const want = toBoolean(expected);
    return want !== undefined && toBoolean(got) === want;
  }
  return normaliseAnswer(String(got)) === normaliseAnswer(expected);
}

function sameSet(expected: readonly string[], got: readonly string[]): boolean {
  const want = new Set(expected);
  const have = new Set(got);
  return want.size === have.size && [...want].every((id) => have.has(id));
}

function latencies(results: readonly EvalResult[]): Record<string, LatencySummary> {
  const samples = new Map<string, number[]>();
  const add = (key: string, value: number) => samples.set(key, [...(samples.get(key) ?? []), value]);
  for (const { record, wallMs } of results) {
    if (isFailed(record)) continue;
    for (const stage of ['fast', 'detailed'] as const)
      for (const [name, value] of Object.entries(record.timings[stage] ?? {}))
        if (typeof value === 'number') add(`${stage}.${name}`, value);
    add('wall.perImageMs', wallMs);
  }
  const summary: Record<string, LatencySummary> = {};
  for (const [key, values] of samples)
    summary[key] = {
      p50: percentile(values, 50) as number,
      p95: percentile(values, 95) as number,
      n: values.length,
    };
  return summary;
}

/**
 * Scores the engine's records against the references:
 * 1. captions → CIDEr-D and BLEU-4 over the images with reference captions (PTB-like tokens);
 * 2. text → corpus CER over the images with expected text;
 * 3. categories → exact-set accuracy; answers → per-answer accuracy;
 * 4. checks → verdict counts and contradicted claims per 100 images;
 * 5. timings → p50/p95 per stage timing and per image wall time (failed images left out).
 * A failed image scores as empty for every metric it has references for.
 */
export function scoreResults(results: readonly EvalResult[]): EvalMetrics {
  const captionPairs: ScoredPair[] = [];
  const captionFiles: string[] = [];
  let captionsMissing = 0;
  const texts: Array<{ file: string; comparison: TextComparison }> = [];
  let textMissing = 0;
  let categoryScored = 0;
  let categoryCorrect = 0;
  let categoryMissing = 0;
  let answersScored = 0;
  let answersCorrect = 0;
  let answersMissing = 0;
  const checks = { images: 0, imagesWithContradiction: 0, contradicted: 0, consistent: 0, unverifiable: 0 };

  for (const { reference, record } of results) {
    const failed = isFailed(record);
    if (reference.captions) {
      if (record.caption === undefined && !failed) captionsMissing += 1;
      else {
        captionPairs.push({
          candidate: captionTokensForScoring(record.caption ?? ''),
          references: reference.captions.map(captionTokensForScoring),
        });
        captionFiles.push(reference.file);
      }
    }
    if (reference.text !== undefined) {
      if (record.text === undefined && !failed) textMissing += 1;
      else
        texts.push({
          file: reference.file,
          comparison: compareText(record.text?.full ?? '', reference.text),
        });
    }
    if (reference.categories) {
      if (record.categories === undefined && !failed) categoryMissing += 1;
      else {
        categoryScored += 1;
        if (
          sameSet(
            reference.categories,
            (record.categories ?? []).map((c) => c.id),
          )
        )
          categoryCorrect += 1;
      }
    }
    if (reference.answers) {
      for (const [id, expected] of Object.entries(reference.answers)) {
        const answer = record.answers?.[id];
        if (answer === undefined && record.answers === undefined && !failed) answersMissing += 1;
        else {
          answersScored += 1;
          if (answerMatches(expected, answer)) answersCorrect += 1;
        }
      }
    }
    if (record.checks) {
      checks.images += 1;
      const contradicted = record.checks.filter((c) => c.verdict === 'contradicted').length;
      if (contradicted > 0) checks.imagesWithContradiction += 1;
      checks.contradicted += contradicted;
      checks.consistent += record.checks.filter((c) => c.verdict === 'consistent').length;
      checks.unverifiable += record.checks.filter((c) => c.verdict === 'unverifiable').length;
    }
  }

  const cider = ciderD(captionPairs);
  const bleu = corpusBleu(captionPairs);
  const ciderByFile = new Map(captionFiles.map((file, i) => [file, cider?.perImage[i]]));
  const textByFile = new Map(texts.map(({ file, comparison }) => [file, comparison]));
  const perImage = results.map(({ reference, record }) => {
    const text = textByFile.get(reference.file);
    const failure = isFailed(record) ? (record.errors.fast ?? record.errors.detailed) : undefined;
    return {
      file: reference.file,
      ...(record.caption !== undefined ? { caption: record.caption } : {}),
      ...(ciderByFile.get(reference.file) !== undefined ? { ciderD: ciderByFile.get(reference.file) } : {}),
      ...(text && text.referenceLength > 0 ? { cer: text.edits / text.referenceLength } : {}),
      ...(failure ? { failed: `${failure.code}: ${failure.message}` } : {}),
    };
  });

  return {
    ciderD: metric(cider?.score, captionPairs.length, captionsMissing),
    bleu4: metric(bleu?.scores[3], captionPairs.length, captionsMissing),
    bleu1: metric(bleu?.scores[0], captionPairs.length, captionsMissing),
    ocrCer: metric(characterErrorRate(texts.map((t) => t.comparison)), texts.length, textMissing),
    categoryAccuracy: metric(categoryCorrect / categoryScored, categoryScored, categoryMissing),
    answerAccuracy: metric(answersCorrect / answersScored, answersScored, answersMissing),
    checks: {
      ...checks,
      contradictedPer100Images: checks.images > 0 ? (100 * checks.contradicted) / checks.images : null,
    },
    latencyMs: latencies(results),
    perImage,
  };
}
