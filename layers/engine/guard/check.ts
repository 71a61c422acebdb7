import type { ColourFamily, ConsistencyCheck, DescriptionRecord } from '../record/schema.ts';
import { canonicalObject, colourClaims, objectClaims, textClaims } from './claims.ts';

/**
 * The consistency guard: claims in the generated text (caption, detailed description, answers)
 * compared with what was measured (the pixel palette, OCR text, detected objects). It flags,
 * never rewrites: a contradicted claim stays in the text and gets a `contradicted` check.
 *
 * Rules (docs/questions.md lists them with their blind spots):
 * - colour: the claimed family's share of the palette. At least CONSISTENT_COLOUR_FRACTION:
 *   consistent; none at all, and no neighbouring family either: contradicted; otherwise (a trace,
 *   or only a neighbour such as orange for red): unverifiable. No palette: unverifiable.
 * - text: the quoted/"says X" text, normalised, against the OCR text, normalised: found (allowing
 *   TEXT_EDIT_FRACTION edits): consistent; OCR ran and found other text or none: contradicted;
 *   OCR did not run: unverifiable.
 * - object / count: only for COCO-class nouns not denied ("no dogs"), and only when a detector ran
 *   (`objects` present): a label of that class: consistent, none: contradicted; a stated count
 *   (summed over the class's nouns: "two men and a woman" is 3 people) against the number of boxes
 *   of that class: equal consistent; more boxes while the class is also named without a count:
 *   unverifiable; else contradicted. No detector: unverifiable.
 */

/** A family covering at least 5% of the pixels is "there"; under it, palettes and words disagree. */
export const CONSISTENT_COLOUR_FRACTION = 0.05;
/** Up to a quarter of the claimed characters may differ (OCR misreads, caption misspellings). */
export const TEXT_EDIT_FRACTION = 0.25;

/**
 * Families a word may honestly stand for when the palette says the neighbour (lighting, naming).
 * A Map, so only a family finds neighbours: never a property every object has.
 */
const NEIGHBOURS: ReadonlyMap<ColourFamily, readonly ColourFamily[]> = new Map<ColourFamily, ColourFamily[]>([
  ['red', ['orange', 'pink', 'purple', 'brown']],
  ['orange', ['red', 'yellow', 'brown']],
  ['yellow', ['orange', 'green', 'brown']],
  ['green', ['yellow', 'blue']],
  ['blue', ['green', 'purple', 'gray']],
  ['purple', ['blue', 'pink', 'red']],
  ['pink', ['red', 'purple', 'white']],
  ['brown', ['orange', 'red', 'yellow', 'black']],
  ['black', ['gray', 'brown', 'blue']],
  ['white', ['gray', 'yellow', 'pink']],
  ['gray', ['white', 'black', 'blue']],
]);

export type GuardStage = 'fast' | 'detailed';

/** The generated fields a stage checks: the fast stage only has its caption. */
function claimSources(record: DescriptionRecord, stage: GuardStage): Array<[string, string]> {
  const sources: Array<[string, string]> = [];
  if (record.caption) sources.push(['caption', record.caption]);
  if (stage === 'fast') return sources;
  if (record.detailedDescription) sources.push(['detailedDescription', record.detailedDescription]);
  for (const [id, answer] of Object.entries(record.answers ?? {})) {
    if (answer.raw && answer.error === undefined) sources.push([`answers.${id}`, answer.raw]);
  }
  return sources;
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 1000) / 10}%`;
}

function colourChecks(record: DescriptionRecord, field: string, text: string): ConsistencyCheck[] {
  const palette = record.colours;
  const shares = new Map<ColourFamily, number>();
  for (const colour of palette ?? [])
    shares.set(colour.family, (shares.get(colour.family) ?? 0) + colour.fraction);
  const summary =
    [...shares.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([family, share]) => `${family} ${percent(share)}`)
      .join(', ') || 'no colours';
  return colourClaims(text).map(({ word, family, phrase }) => {
    const base = { kind: 'colour' as const, field, claim: `${word} ("${phrase}")` };
    if (!palette) return { ...base, evidence: 'no palette measured', verdict: 'unverifiable' as const };
    const share = shares.get(family) ?? 0;
    const evidence = `palette ${summary}`;
    if (share >= CONSISTENT_COLOUR_FRACTION) return { ...base, evidence, verdict: 'consistent' as const };
    const neighbour = (NEIGHBOURS.get(family) ?? []).some(
      (n) => (shares.get(n) ?? 0) >= CONSISTENT_COLOUR_FRACTION,
    );
    return {
      ...base,
      evidence,
      verdict: share === 0 && !neighbour ? ('contradicted' as const) : ('unverifiable' as const),
    };
  });
}

/** Lower case, letters and digits only: OCR and captions differ in case, punctuation and spacing. */
export function normaliseText(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '');
}

/**
 * Fewest edits turning `needle` into some substring of `haystack` (Sellers' approximate matching):
 * the caption's text may be a part of what OCR read.
 */
export function substringEditDistance(needle: string, haystack: string): number {
  if (needle.length === 0) return 0;
  let previous = Array.from({ length: needle.length + 1 }, (_, i) => i);
  let best = previous[needle.length] as number;
  for (let j = 1; j <= haystack.length; j++) {
    const current = [0];
    for (let i = 1; i <= needle.length; i++) {
      const cost = needle[i - 1] === haystack[j - 1] ? 0 : 1;
      current[i] = Math.min(
        (previous[i - 1] as number) + cost,
        (previous[i] as number) + 1,
        (current[i - 1] as number) + 1,
      );
    }
    best = Math.min(best, current[needle.length] as number);
    previous = current;
  }
  return best;
}

function textChecks(record: DescriptionRecord, field: string, text: string): ConsistencyCheck[] {
  return textClaims(text).map(({ quoted, phrase }) => {
    const base = { kind: 'text' as const, field, claim: phrase };
    if (!record.text) return { ...base, evidence: 'OCR did not run', verdict: 'unverifiable' as const };
    const ocr = normaliseText(record.text.full);
    const claimed = normaliseText(quoted);
    if (claimed === '')
      return { ...base, evidence: 'no letters or digits claimed', verdict: 'unverifiable' as const };
    const shown = record.text.full.replace(/\s+/g, ' ').trim();
    const evidence =
      ocr === ''
        ? 'OCR found no text'
        : `OCR text "${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}"`;
    const edits = substringEditDistance(claimed, ocr);
    const verdict = edits <= Math.floor(claimed.length * TEXT_EDIT_FRACTION) ? 'consistent' : 'contradicted';
    return { ...base, evidence, verdict };
  });
}

function objectChecks(record: DescriptionRecord, field: string, text: string): ConsistencyCheck[] {
  const detected = new Map<string, number>();
  for (const object of record.objects ?? []) {
    const label = canonicalObject(object.label) ?? object.label.toLowerCase();
    detected.set(label, (detected.get(label) ?? 0) + 1);
  }
  const summary = [...detected.entries()].map(([label, n]) => `${n} ${label}`).join(', ') || 'no objects';
  return objectClaims(text).map(({ label, count, groupCount, openEnded, phrase }): ConsistencyCheck => {
    const kind = count === undefined ? ('object' as const) : ('count' as const);
    const base = { kind, field, claim: phrase };
    if (!record.objects)
      return { ...base, evidence: 'no object detector ran', verdict: 'unverifiable' as const };
    const found = detected.get(label) ?? 0;
    const evidence = `objects: ${summary}`;
    if (count === undefined) return { ...base, evidence, verdict: found > 0 ? 'consistent' : 'contradicted' };
    if (found === count || found === groupCount) return { ...base, evidence, verdict: 'consistent' };
    // "two men and the woman": the uncounted mention may be any number more.
    if (openEnded && found > count) return { ...base, evidence, verdict: 'unverifiable' };
    return { ...base, evidence, verdict: 'contradicted' };
  });
}

/**
 * Every check for a record at the end of a stage: the fast stage checks its caption against the
 * palette and the objects; the detailed stage checks all generated text against everything measured.
 */
export function checkConsistency(
  record: DescriptionRecord,
  stage: GuardStage = 'detailed',
): ConsistencyCheck[] {
  const checks: ConsistencyCheck[] = [];
  for (const [field, text] of claimSources(record, stage)) {
    checks.push(...colourChecks(record, field, text));
    if (stage === 'detailed' || record.text) checks.push(...textChecks(record, field, text));
    checks.push(...objectChecks(record, field, text));
  }
  return checks;
}

/** How many checks of each verdict, for logs and the CLI. */
export function checkCounts(
  checks: readonly ConsistencyCheck[],
): Record<ConsistencyCheck['verdict'], number> {
  const counts = { consistent: 0, contradicted: 0, unverifiable: 0 };
  for (const check of checks) counts[check.verdict] += 1;
  return counts;
}
