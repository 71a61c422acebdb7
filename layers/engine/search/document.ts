import type { Colour, DescriptionRecord, StageState } from '../record/schema.ts';
import { foldPhrase } from '../words.ts';
import { SEARCH_FIELD_WEIGHTS, type SearchField, type SearchQuery } from './query.ts';

/**
 * What a search engine stores per image: the text fields it tokenises (colours are left out on
 * purpose: the word "red" must not find a speck of red; the colour filter takes families and
 * names) and the facts the filters read. Built from a
 * sidecar by `searchDocument`, the same way for every engine.
 */
export interface SearchDocument {
  readonly fields: Readonly<Record<SearchField, string>>;
  /** The result this document gives, without its score; the filters read it too. */
  readonly hit: Omit<SearchHit, 'score'>;
  /** Folded label phrases and category ids, for the filters. */
  readonly labelPhrases: readonly string[];
  readonly categoryPhrases: readonly string[];
}

/** What the filters read: a document without its text fields (what an index keeps in memory). */
export type FilterFacts = Pick<SearchDocument, 'hit' | 'labelPhrases' | 'categoryPhrases'>;

/** One result, the same JSON from both engines. */
export interface SearchHit {
  /** The image: the object key (local stack, AWS) or the file path (CLI). */
  readonly key: string;
  /** The original upload name when known, else the key's last part. */
  readonly name: string;
  /** Relevance (see query.ts); 0 when the query has no words. */
  readonly score: number;
  readonly uploadedAt: string;
  readonly status: { readonly fast: StageState; readonly detailed: StageState };
  readonly caption?: string;
  readonly detailedDescription?: string;
  /** The text found (text.full), when there is any. */
  readonly text?: string;
  readonly colours: readonly Colour[];
  readonly labels: readonly string[];
  /** Category ids, best first. */
  readonly categories: readonly string[];
}

export interface SearchResponse {
  readonly results: readonly SearchHit[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly nextCursor?: string;
  /** Matches in all pages; both engines count them, on every page (past the end too). */
  readonly total: number;
}

/**
 * When an image was uploaded, as the sidecar records it: `createdAt`, set when its bytes were first
 * described (seconds after the upload) and kept when a stage runs again; for records written before
 * it existed, the time of the fast stage's latest state. A sidecar holds no other upload time, and
 * Athena reads only the sidecar, so both engines use this one (athena-sql.ts: `coalesce`).
 */
export function uploadedAtOf(record: DescriptionRecord): string {
  return record.createdAt ?? record.status.fast.updatedAt;
}

/** The image key of a record: the S3 key, else the file path. */
export function keyOfRecord(record: DescriptionRecord): string {
  return record.source.key ?? record.source.path ?? '';
}

function basename(key: string): string {
  const parts = key.split(/[\\/]/);
  return parts[parts.length - 1] || key;
}

/** Answer text searched: each answer's parsed string value and the model's raw text. */
function answersText(record: DescriptionRecord): string {
  const out: string[] = [];
  for (const answer of Object.values(record.answers ?? {})) {
    if (typeof answer.value === 'string' && answer.value !== answer.raw) out.push(answer.value);
    out.push(answer.raw);
  }
  return out.join('\n');
}

export function searchDocument(
  record: DescriptionRecord,
  options: { key?: string; originalName?: string } = {},
): SearchDocument {
  const key = options.key ?? keyOfRecord(record);
  const fileName = basename(key);
  const name = options.originalName || fileName;
  const categories = (record.categories ?? []).map((c) => c.id);
  const labels = record.labels ?? [];
  const text = record.text?.full ?? '';
  return {
    fields: {
      caption: record.caption ?? '',
      labels: labels.join('\n'),
      // Ids like "street-sign" tokenise to "street sign".
      categories: categories.join('\n'),
      text: record.text?.full ?? '',
      name: name === fileName ? fileName : `${name}\n${fileName}`,
      detailedDescription: record.detailedDescription ?? '',
      answers: answersText(record),
    },
    hit: {
      key,
      name,
      uploadedAt: uploadedAtOf(record),
      status: { fast: record.status.fast.state, detailed: record.status.detailed.state },
      ...(record.caption !== undefined ? { caption: record.caption } : {}),
      ...(record.detailedDescription !== undefined
        ? { detailedDescription: record.detailedDescription }
        : {}),
      ...(text.trim() !== '' ? { text } : {}),
      colours: record.colours ?? [],
      labels,
      categories,
    },
    labelPhrases: labels.map(foldPhrase),
    categoryPhrases: categories.map(foldPhrase),
  };
}

/** Every filter of the query holds for the document (the text terms are the engine's part). */
export function matchesFilters(doc: FilterFacts, query: SearchQuery): boolean {
  const { hit } = doc;
  for (const colour of query.colours) {
    let share = 0;
    for (const c of hit.colours)
      if (c.family === colour.family && (colour.name === undefined || c.name === colour.name))
        share += c.fraction;
    // The family must be in the palette at all, and its summed share must reach the minimum.
    if (share === 0 || share < colour.minFraction) return false;
  }
  for (const label of query.labels) if (!doc.labelPhrases.includes(label)) return false;
  for (const category of query.categories) if (!doc.categoryPhrases.includes(category)) return false;
  if (query.hasText !== undefined && (hit.text !== undefined) !== query.hasText) return false;
  if (query.uploaded.from && hit.uploadedAt < query.uploaded.from) return false;
  if (query.uploaded.before && hit.uploadedAt >= query.uploaded.before) return false;
  if (query.state.fast && hit.status.fast !== query.state.fast) return false;
  if (query.state.detailed && hit.status.detailed !== query.state.detailed) return false;
  return true;
}

/** Relevance from which fields hold each term: Σ over terms of the best field weight. */
export function relevance(
  fieldsByTerm:
    | ReadonlyMap<string, readonly SearchField[]>
    | Readonly<Record<string, readonly SearchField[]>>,
): number {
  const lists = fieldsByTerm instanceof Map ? fieldsByTerm.values() : Object.values(fieldsByTerm);
  let score = 0;
  for (const fields of lists as Iterable<readonly SearchField[]>) {
    let best = 0;
    for (const field of fields) best = Math.max(best, SEARCH_FIELD_WEIGHTS[field] ?? 0);
    score += best;
  }
  return score;
}

/** True when the query has a filter besides its words (the index can skip the filter pass). */
export function hasFilters(query: SearchQuery): boolean {
  return (
    query.colours.length > 0 ||
    query.labels.length > 0 ||
    query.categories.length > 0 ||
    query.hasText !== undefined ||
    query.uploaded.from !== undefined ||
    query.uploaded.before !== undefined ||
    query.state.fast !== undefined ||
    query.state.detailed !== undefined
  );
}

/** Newest first, then by key: the date order, and the tie order of relevance. */
export function newestFirst(
  a: { uploadedAt: string; key: string },
  b: { uploadedAt: string; key: string },
): number {
  if (a.uploadedAt !== b.uploadedAt) return a.uploadedAt < b.uploadedAt ? 1 : -1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** The order both engines return: by score (relevance sort) or not, then newestFirst. */
export function compareHits(sort: SearchQuery['sort']) {
  return (a: { score: number; uploadedAt: string; key: string }, b: typeof a): number =>
    (sort === 'relevance' ? b.score - a.score : 0) || newestFirst(a, b);
}

export function hitOf(doc: Pick<SearchDocument, 'hit'>, score: number): SearchHit {
  return { ...doc.hit, score };
}
