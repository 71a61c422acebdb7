import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteSearchIndex, searchIndexFile } from '#emulators/sqlite-search-index.ts';
import { ENV, type Env, readModelsDir } from '#engine/index.ts';
import { readQuestionsConfig } from '#engine/questions/index.ts';
import { FILE_SIDECAR_SUFFIX, readStoredRecord } from '#engine/record/index.ts';
import {
  DEFAULT_COLOUR_MIN_FRACTION,
  foldPhrase,
  type HybridHit,
  type HybridSearch,
  type HybridSearchResponse,
  LocalSearchIndex,
  localHybridSearch,
  MemoryVectorIndex,
  parseSearchQuery,
  type QueryEmbedder,
  SEARCH_LIMITS,
  type SearchHit,
  type SearchQuery,
  SearchQueryError,
  vectorEntryOf,
} from '#engine/search/index.ts';
import { openQueryEmbedder } from '#engine/search/query-embedder.ts';
import type { CommandOutput } from './describe-command.ts';
import { colourFamilies } from './format.ts';

export const SEARCH_USAGE = `Usage: image-describer search [words...] [options]

Searches the descriptions in a folder of ${FILE_SIDECAR_SUFFIX} sidecars (what describe writes),
subfolders included. Words match whole words of the caption, detailed description, text found,
object labels, categories, answers and file name (case, accents and simple plurals folded);
every word must match. Colours are not among the words: use --colour.
With the embedding model installed, the words are also matched by meaning against each image's
embedding, and the two lists are fused ("beach" finds "a dog on the sand"); without it, the
search says so and lists keyword matches only.

Options:
  --dir <folder>        folder of sidecars (default: the current folder)
  --data <dir>          search the local stack's collection instead (npm start's data directory,
                        default .local-data): its search file, keywords and image vectors, as it
                        is (no sidecar is read); images are named by their keys in the bucket
  --colour <colour>     a family (red, orange, yellow, green, blue, purple, pink, brown, black,
                        white, gray) or a name the palette gives ("light blue", "dark red");
                        repeat for several (all must be there); --color works too
  --colour-min <0..1>   share of the image the colour must cover (default ${DEFAULT_COLOUR_MIN_FRACTION})
  --label <label>       an object label the image must have (repeatable)
  --category <id>       a category the image must match (repeatable); an unknown id is an
                        error that lists the known ones
  --has-text true|false only images with (or without) text found
  --from <date>         described on or after (YYYY-MM-DD or ISO date-time)
  --to <date>           described on or before
  --fast <state>        fast stage state: pending, waiting-for-models, done, failed
  --detailed <state>    detailed stage state
  --sort relevance|date default: relevance with words, date without
  --limit <n>           results per page, 1-${SEARCH_LIMITS.maxLimit} (default ${SEARCH_LIMITS.defaultLimit})
  --cursor <cursor>     the next page (printed after a full page)
  --similar <path>      images most like this one (its path as listed), instead of words
  --models <dir>        model set for the query's text embedding (default: MODELS_DIR or models/)
  --json                print { results, nextCursor, total, mode, notice } as JSON
  -h, --help            show this help

Exit status: 0 on a search (with or without results), 2 on a bad option, an unknown category or
an unreadable folder.`;

const OPTIONS = {
  dir: { type: 'string', default: '.' },
  data: { type: 'string' },
  colour: { type: 'string', multiple: true },
  color: { type: 'string', multiple: true },
  'colour-min': { type: 'string' },
  'color-min': { type: 'string' },
  label: { type: 'string', multiple: true },
  category: { type: 'string', multiple: true },
  'has-text': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  fast: { type: 'string' },
  detailed: { type: 'string' },
  sort: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  similar: { type: 'string' },
  models: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Query parameter → the flag a CLI user typed, for error messages. */
const FLAG_OF: Record<string, string> = {
  q: 'the search words',
  colour: '--colour',
  colourMin: '--colour-min',
  label: '--label',
  category: '--category',
  hasText: '--has-text',
  from: '--from',
  to: '--to',
  fast: '--fast',
  detailed: '--detailed',
  sort: '--sort',
  limit: '--limit',
  cursor: '--cursor',
  similar: '--similar',
};

interface LoadSummary {
  readonly indexed: number;
  readonly skipped: Array<{ path: string; reason: string }>;
  /** Category ids the indexed records hold. */
  readonly categories: ReadonlySet<string>;
}

async function sidecarPaths(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(FILE_SIDECAR_SUFFIX))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/**
 * Index every sidecar under `dir`. An image is named by the path it was described from
 * (source.path), else by the sidecar's path without the suffix; a file that is not a record is
 * skipped and reported, never fatal.
 */
export async function indexSidecarFolder(
  dir: string,
  index: LocalSearchIndex,
  vectors?: MemoryVectorIndex,
): Promise<LoadSummary> {
  const skipped: Array<{ path: string; reason: string }> = [];
  let indexed = 0;
  const categories = new Set<string>();
  for (const path of await sidecarPaths(dir)) {
    try {
      const record = readStoredRecord(JSON.parse(await readFile(path, 'utf8')));
      const key = record.source.path ?? relative(process.cwd(), path.slice(0, -FILE_SIDECAR_SUFFIX.length));
      index.upsert({ key, record });
      const entry = vectorEntryOf(key, record);
      if (entry) await vectors?.upsert([entry]);
      for (const category of record.categories ?? []) categories.add(category.id);
      indexed += 1;
    } catch (error) {
      skipped.push({ path, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  return { indexed, skipped, categories };
}

/** Why `--dir` cannot be searched, in words: a missing folder, a file, or no permission. */
function unreadableFolderSentence(dir: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT')
    return `There is no folder ${dir}: give --dir the folder describe wrote its sidecars in (default: the current folder).`;
  if (code === 'ENOTDIR') return `${dir} is a file, not a folder: give --dir the folder of the sidecars.`;
  return `Cannot read the folder ${dir} (${code ?? (error as Error).message}): check that you may read it.`;
}

/**
 * Category ids a search may name: those of the configured category list (QUESTIONS_CONFIG or
 * config/questions.json) and those found in the sidecars (described with another list, perhaps).
 */
function knownCategories(env: Env, inSidecars: Iterable<string>) {
  let configured: readonly string[] = [];
  try {
    configured = readQuestionsConfig(env[ENV.QUESTIONS_CONFIG], ENV.QUESTIONS_CONFIG).categories.map(
      (c) => c.id,
    );
  } catch {
    // A broken questions file is describe's error to report; the sidecars still name categories.
  }
  return [...new Set([...configured, ...inSidecars])].sort();
}

/** The error for category ids (as typed) no list knows (undefined when all are known), listing the known ones. */
function unknownCategories(asked: readonly string[], known: readonly string[]): string | undefined {
  const folded = new Set(known.map(foldPhrase));
  const unknown = asked.filter((id) => !folded.has(foldPhrase(id)));
  if (unknown.length === 0) return undefined;
  const list =
    known.length > 0
      ? `the known ones are ${known.join(', ')}`
      : 'no category is configured or found in the sidecars';
  return `There is no category ${unknown.map((id) => `"${id}"`).join(', ')}: ${list}.`;
}

function formatHit(hit: SearchHit & Partial<HybridHit>, rank: number): string {
  const similarity = hit.similarity !== undefined ? `, similarity ${hit.similarity.toFixed(2)}` : '';
  const lines = [`${rank}. ${hit.key}${hit.score > 0 ? `  (score ${hit.score}${similarity})` : ''}`];
  if (hit.caption) lines.push(`   caption:  ${hit.caption}`);
  if (hit.text) lines.push(`   text:     ${hit.text.trim().split('\n').join(' / ')}`);
  if (hit.colours.length) {
    lines.push(`   colours:  ${colourFamilies(hit.colours)}`);
  }
  if (hit.labels.length) lines.push(`   labels:   ${hit.labels.join(', ')}`);
  if (hit.categories.length) lines.push(`   categories: ${hit.categories.join(', ')}`);
  if (hit.status.fast !== 'done' || hit.status.detailed !== 'done') {
    lines.push(`   status:   fast ${hit.status.fast}, detailed ${hit.status.detailed}`);
  }
  return lines.join('\n');
}

function formatResponse(response: HybridSearchResponse, offset: number): string {
  if (response.results.length === 0) return 'No images match.';
  const blocks = response.results.map((hit, i) => formatHit(hit, offset + i + 1));
  const shown = `${offset + 1}-${offset + response.results.length} of ${response.total ?? '?'}`;
  blocks.push(response.nextCursor ? `${shown}; next page: --cursor ${response.nextCursor}` : shown);
  return blocks.join('\n');
}

/** `image-describer search ...` as a function of its arguments and streams; returns the exit status. */
export async function runSearchCli(
  argv: readonly string[],
  output: CommandOutput,
  env: Env = {},
): Promise<number> {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>
  >;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS });
  } catch (error) {
    output.stderr.write(`${(error as Error).message}\n\n${SEARCH_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    output.stdout.write(`${SEARCH_USAGE}\n`);
    return 0;
  }
  const params: Record<string, string | string[] | undefined> = {
    q: positionals.length ? positionals.join(' ') : undefined,
    colour: [...(values.colour ?? []), ...(values.color ?? [])],
    colourMin: values['colour-min'] ?? values['color-min'],
    label: values.label,
    category: values.category,
    hasText: values['has-text'],
    from: values.from,
    to: values.to,
    fast: values.fast,
    detailed: values.detailed,
    sort: values.sort,
    limit: values.limit,
    cursor: values.cursor,
    similar: values.similar,
  };
  let query: ReturnType<typeof parseSearchQuery>;
  try {
    query = parseSearchQuery(params);
  } catch (error) {
    if (!(error instanceof SearchQueryError)) throw error;
    const flag = FLAG_OF[error.parameter];
    const message = flag ? error.message.replace(` for ${error.parameter} `, ` for ${flag} `) : error.message;
    output.stderr.write(`${message}\n`);
    return 2;
  }

  if (values.data !== undefined) return searchStackFile(values.data, query, values, output, env);
  const index = new LocalSearchIndex();
  const vectors = new MemoryVectorIndex();
  let summary: LoadSummary;
  try {
    summary = await indexSidecarFolder(values.dir, index, vectors);
  } catch (error) {
    output.stderr.write(`${unreadableFolderSentence(values.dir, error)}\n`);
    return 2;
  }
  const unknown = unknownCategories(values.category ?? [], knownCategories(env, summary.categories));
  if (unknown) {
    output.stderr.write(`${unknown}\n`);
    return 2;
  }

  for (const { path, reason } of summary.skipped) output.stderr.write(`skipped ${path}: ${reason}\n`);
  if (summary.indexed === 0) {
    output.stderr.write(
      `No ${FILE_SIDECAR_SUFFIX} sidecars in ${values.dir}: run image-describer describe first.\n`,
    );
  }

  return answer((embedder) => localHybridSearch(index, vectors, embedder), query, values, output, env);
}

type SearchValues = { readonly json: boolean; readonly models?: string };

/** `--data`: the stack's search file, opened read-only (the stack may be running and writing it). */
async function searchStackFile(
  dataDir: string,
  query: SearchQuery,
  values: SearchValues,
  output: CommandOutput,
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  const file = searchIndexFile(resolve(dataDir));
  const opened = SqliteSearchIndex.openReadOnly(file);
  if ('unusable' in opened) {
    output.stderr.write(
      `Cannot search ${file}: ${opened.unusable}. Start the stack on that data directory (npm start -- --data ${dataDir}) to rebuild it.\n`,
    );
    return 2;
  }
  const { index } = opened;
  try {
    return await answer(
      (embedder) => localHybridSearch(index, index.vectors, embedder),
      query,
      values,
      output,
      env,
    );
  } finally {
    index.close();
  }
}

/** Runs the query with the text tower of the model set and prints the response. */
async function answer(
  search: (embedder: QueryEmbedder | undefined) => HybridSearch,
  query: SearchQuery,
  values: SearchValues,
  output: CommandOutput,
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> {
  const { embedder, models } = await openQueryEmbedder(resolve(readModelsDir(env, values.models)));
  try {
    const response = await search(embedder).search(query);
    if (response.notice && !values.json) output.stderr.write(`${response.notice}\n`);
    output.stdout.write(
      `${values.json ? JSON.stringify(response) : formatResponse(response, query.offset)}\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof SearchQueryError)) throw error;
    output.stderr.write(`${error.message.replace(' for similar ', ' for --similar ')}\n`);
    return 2;
  } finally {
    await models?.dispose();
  }
}
