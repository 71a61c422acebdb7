import { createHash } from 'node:crypto';
import type { Category } from '../questions/config.ts';
import type { CategoryMatch, DescriptionRecord, ModelProvenance } from '../record/schema.ts';
import { decodeEmbedding } from '../search/vector-codec.ts';
import { embeddingModelKey } from '../search/vector-facts.ts';
import { categoryWords } from '../words.ts';
import type { PromptVectors } from './prompt-vectors.ts';

/**
 * Categories by scoring, not by a model: each category's terms (its keywords and the words of its
 * label) are looked up in what the record already holds — caption, detector labels, detailed
 * description, answers, OCR text and the dominant colour families. Measured against asking the VLM
 * to pick a category (docs/questions.md): scoring needs no download, costs well under a millisecond
 * and explains itself through `evidence`; the constrained VLM answer costs one generation per image.
 * A category's prompts add zero-shot evidence: the image's stored embedding against the prompts'
 * text vectors (the same model's text tower), one more source in the same combination.
 */

/** Bump when the scoring rules change: records then count as stale and are re-scored. */
export const CATEGORISER_REVISION = 'scoring-v2';

/**
 * How much one source's match counts. Combined as a noisy OR (1 - Π(1 - w)), so two independent
 * sources agreeing count more than either, and no number of sources reaches 1.
 */
export const SOURCE_WEIGHTS = {
  caption: 0.6,
  labels: 0.6,
  detailedDescription: 0.4,
  answers: 0.5,
  colours: 0.4,
  text: 0.3,
  /** The image's embedding within a prompt's cut-off: a reading of the pixels, like the caption. */
  prompts: 0.6,
} as const;

/** A category needs at least this score; one caption or detector match is enough, OCR text alone is. */
export const MIN_CATEGORY_SCORE = 0.3;

/** A palette family counts as a colour source term when it covers at least this share of the pixels. */
export const DOMINANT_COLOUR_FRACTION = 0.25;

/** Label words that carry no meaning of their own ("Red things", "Food and drink"). */
const STOPWORDS = new Set([
  'a',
  'an',
  'the',
  'and',
  'or',
  'of',
  'with',
  'in',
  'on',
  'for',
  'to',
  'things',
  'stuff',
  'other',
  'images',
  'image',
  'photos',
  'photo',
  'pictures',
  'picture',
]);

type Source = keyof typeof SOURCE_WEIGHTS;

/** The category's search terms: keywords as phrases, plus the meaningful words of its label. */
export function categoryTerms(category: Category): string[] {
  const terms = new Set<string>();
  for (const keyword of category.keywords ?? []) {
    const term = categoryWords(keyword);
    if (term) terms.add(term);
  }
  for (const word of categoryWords(category.label).split(' ')) {
    if (word && !STOPWORDS.has(word)) terms.add(word);
  }
  return [...terms];
}

/** Plurals no suffix rule makes, both ways. A Map, so a word like "constructor" finds nothing. */
const IRREGULAR_PLURALS: ReadonlyMap<string, string> = new Map([
  ['man', 'men'],
  ['woman', 'women'],
  ['child', 'children'],
  ['person', 'people'],
  ['mouse', 'mice'],
  ['goose', 'geese'],
  ['foot', 'feet'],
  ['tooth', 'teeth'],
  ['knife', 'knives'],
  ['leaf', 'leaves'],
  ['wolf', 'wolves'],
]);
const IRREGULAR_SINGULARS: ReadonlyMap<string, string> = new Map(
  [...IRREGULAR_PLURALS].map(([singular, plural]) => [plural, singular]),
);
/** Words ending in s that are no plural of a word with the s taken off ("news" is not "new"s). */
const NOT_PLURALS = new Set(['news', 'series', 'species']);

/** The singular a plural word may stand for ("dogs" → dog, "puppies" → puppy, "buses" → bus, "bus"). */
function singularsOf(word: string): string[] {
  const irregular = IRREGULAR_SINGULARS.get(word);
  if (irregular) return [irregular];
  if (NOT_PLURALS.has(word) || !word.endsWith('s') || word.endsWith('ss')) return [];
  const singulars = [word.slice(0, -1)];
  if (word.endsWith('ies')) singulars.push(`${word.slice(0, -3)}y`);
  if (/(s|sh|ch|x|z|o)es$/.test(word)) singulars.push(word.slice(0, -2));
  // "bu" of "bus" is no word anyone searches for.
  return singulars.filter((singular) => singular.length >= 3);
}

/** A singular's plurals: "dog" dogs, "bus" buses, "puppy" puppies, "toy" toys, "man" men. */
function pluralsOf(word: string): string[] {
  const irregular = IRREGULAR_PLURALS.get(word);
  if (irregular) return [irregular];
  if (/(s|sh|ch|x|z)$/.test(word)) return [`${word}es`];
  if (/[^aeiou]y$/.test(word)) return [`${word.slice(0, -1)}ies`];
  return [`${word}s`, `${word}es`];
}

/**
 * Whole-word match, singular and plural both ways: "dog" finds "dogs", "Dogs" finds "dog", "toy"
 * "toys", "puppies" "puppy", "woman" "women". In a phrase only the last word varies ("ice creams").
 */
function mentions(haystack: string, term: string): boolean {
  const space = term.lastIndexOf(' ');
  const head = term.slice(0, space + 1);
  const last = term.slice(space + 1);
  const forms = new Set([last, ...pluralsOf(last)]);
  for (const singular of singularsOf(last)) {
    forms.add(singular);
    for (const plural of pluralsOf(singular)) forms.add(plural);
  }
  const alternatives = [...forms].map(escapeRegExp).join('|');
  return new RegExp(`(?:^| )${escapeRegExp(head)}(?:${alternatives})(?: |$)`, 'u').test(haystack);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function sourcesOf(record: DescriptionRecord): Array<[Source, string]> {
  const sources: Array<[Source, string]> = [];
  if (record.caption) sources.push(['caption', categoryWords(record.caption)]);
  const labels = record.labels ?? record.objects?.map((o) => o.label) ?? [];
  if (labels.length > 0) sources.push(['labels', labels.map(categoryWords).join(' ')]);
  if (record.detailedDescription)
    sources.push(['detailedDescription', categoryWords(record.detailedDescription)]);
  const answers = Object.values(record.answers ?? {})
    .filter((a) => a.error === undefined && a.value !== undefined && typeof a.value !== 'boolean')
    .map((a) => categoryWords(String(a.value)));
  if (answers.length > 0) sources.push(['answers', answers.join(' ')]);
  const dominant = new Map<string, number>();
  for (const colour of record.colours ?? []) {
    dominant.set(colour.family, (dominant.get(colour.family) ?? 0) + colour.fraction);
  }
  const families = [...dominant].filter(([, share]) => share >= DOMINANT_COLOUR_FRACTION).map(([f]) => f);
  if (families.length > 0) sources.push(['colours', families.join(' ')]);
  if (record.text?.full) sources.push(['text', categoryWords(record.text.full)]);
  return sources;
}

/** How a prompt match's evidence line starts, written and read back here only. */
const PROMPT_EVIDENCE = 'prompts: ';

/**
 * The categories of the list this record matches, best first (ties by list order); empty when none
 * reaches MIN_CATEGORY_SCORE. Evidence names each source and the term it matched.
 */
export function categorise(
  record: DescriptionRecord,
  categories: readonly Category[],
  prompts?: PromptVectors,
  /**
   * Prompt evidence (by category id) scored earlier under the same list and embedding model, kept
   * where the prompts cannot be embedded now (a process without the text tower): the image vector
   * has not changed, so neither has its nearest prompt.
   */
  carriedPrompts?: ReadonlyMap<string, string>,
): CategoryMatch[] {
  const sources = sourcesOf(record);
  const image = imageVectorFor(record, prompts);
  const matches: Array<CategoryMatch & { order: number }> = [];
  categories.forEach((category, order) => {
    const terms = categoryTerms(category);
    const evidence: string[] = [];
    let miss = 1;
    for (const [source, text] of sources) {
      const found = terms.filter((term) => mentions(text, term));
      if (found.length === 0) continue;
      miss *= 1 - SOURCE_WEIGHTS[source];
      evidence.push(...found.map((term) => `${source}: ${term}`));
    }
    const prompt = image && prompts ? closestPrompt(image, category, prompts) : undefined;
    const promptEvidence = prompt
      ? `${PROMPT_EVIDENCE}${prompt.text} (cosine ${prompt.similarity.toFixed(3)})`
      : prompts
        ? undefined
        : carriedPrompts?.get(category.id);
    if (promptEvidence) {
      miss *= 1 - SOURCE_WEIGHTS.prompts;
      evidence.push(promptEvidence);
    }
    const score = Math.round((1 - miss) * 1000) / 1000;
    if (score >= MIN_CATEGORY_SCORE) matches.push({ id: category.id, score, evidence, order });
  });
  return matches
    .sort((a, b) => b.score - a.score || a.order - b.order)
    .map(({ order: _order, ...match }) => match);
}

/** The prompt evidence of a record's categories, by category id (see `categorise`). */
export function promptEvidenceOf(matches: readonly CategoryMatch[] | undefined): Map<string, string> {
  const carried = new Map<string, string>();
  for (const match of matches ?? []) {
    const line = match.evidence.find((item) => item.startsWith(PROMPT_EVIDENCE));
    if (line) carried.set(match.id, line);
  }
  return carried;
}

/** The record's image vector, when it is in the prompts' space (same model key); else undefined. */
function imageVectorFor(record: DescriptionRecord, prompts: PromptVectors | undefined) {
  const model = record.models.embedding;
  if (!prompts || !record.embedding || !model || embeddingModelKey(model) !== prompts.model) return undefined;
  return decodeEmbedding(record.embedding);
}

/** The category's prompt nearest the image, when it reaches the cut-off. */
function closestPrompt(
  image: Float32Array,
  category: Category,
  prompts: PromptVectors,
): { text: string; similarity: number } | undefined {
  const cutOff = category.minSimilarity ?? prompts.minSimilarity;
  let best: { text: string; similarity: number } | undefined;
  for (const text of category.prompts ?? []) {
    const vector = prompts.vectorOf(text);
    if (!vector || vector.length !== image.length) continue;
    let similarity = 0;
    for (let i = 0; i < image.length; i += 1) similarity += (image[i] ?? 0) * (vector[i] ?? 0);
    if (similarity >= cutOff && (!best || similarity > best.similarity)) best = { text, similarity };
  }
  return best;
}

/**
 * The provenance key of a scoring run: the rules' revision and the category list's hash, with the
 * embedding model (and its cut-off) when a category has prompts, since the prompts' vectors and
 * so the scores are that model's.
 */
export function categoriesProvenance(
  categories: readonly Category[],
  embedding?: { readonly model: ModelProvenance; readonly minSimilarity: number },
): ModelProvenance {
  const withPrompts = categories.some((category) => (category.prompts?.length ?? 0) > 0);
  // What scoring reads, and only that: editing a description (for people) re-scores nothing.
  const read = categories.map(({ id, label, keywords, prompts, minSimilarity }) => ({
    id,
    label,
    keywords,
    ...(prompts ? { prompts, minSimilarity } : {}),
  }));
  const model =
    withPrompts && embedding ? { embedding: embedding.model, minSimilarity: embedding.minSimilarity } : {};
  return {
    id: 'image-describer/category-scoring',
    revision: CATEGORISER_REVISION,
    architecture: 'scoring',
    dtype: 'none',
    promptHash: createHash('sha256')
      .update(JSON.stringify(withPrompts ? { read, ...model } : read))
      .digest('hex')
      .slice(0, 16),
  };
}
