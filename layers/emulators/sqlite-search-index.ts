import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { type ColourFamily, colourFamilySchema } from '#engine/record/schema.ts';
import {
  hasFilters,
  hitOf,
  type SearchDocument,
  type SearchHit,
  type SearchResponse,
  searchDocument,
} from '#engine/search/document.ts';
import type { IndexEntry, SearchIndex } from '#engine/search/local-index.ts';
import {
  encodeCursor,
  SEARCH_FIELD_WEIGHTS,
  type SearchField,
  type SearchQuery,
} from '#engine/search/query.ts';
import { searchTerms } from '#engine/words.ts';
import { type IvfSettings, SqliteVectorIndex, VECTOR_TABLES } from './sqlite-vector-index.ts';

/**
 * The local stack's persistent search index: one SQLite file (better-sqlite3, FTS5) under the data
 * directory, updated on every sidecar write and delete, opened as it is at start (no rebuild).
 *
 * It answers the shared query model (query.ts) exactly as the in-memory LocalSearchIndex does:
 * - every document's terms come from the shared `searchTerms` and are stored already folded in a
 *   contentless FTS5 table with the `ascii` tokenizer, which splits on spaces only (a folded term
 *   is letters and digits) and leaves every non-ASCII character as written, so the index adds no
 *   folding of its own;
 * - relevance needs, per query term, the best weight among the fields holding it. The document
 *   row keeps its terms whose best weight is 3 and those whose best is 2 (`w3`, `w2`); a term that
 *   matched and is in neither can only be in a weight-1 field;
 * - filters are columns: the summed share per colour family (the same JavaScript sum the shared
 *   filter computes), folded label and category phrases between U+001F separators, dates as the
 *   same ISO strings, stage states;
 * - each result's JSON (`hits`) is a table of its own, so that the rows a filter reads for every
 *   document are ~270 bytes, not ~1 kB;
 * - ties order by `uploaded_at` and then by `key_order`, the key as UTF-16 big-endian bytes, whose
 *   byte order is JavaScript's string order (SQLite compares UTF-8, which differs past U+FFFF).
 *
 * Words without filters are answered from the FTS5 index alone, without reading a document row per
 * match (at a million records a common word matches hundreds of thousands):
 * - a document's id, which is also its FTS rowid, is its upload minute then a sequence number
 *   (`orderedId`), so rowid order is date order up to the minute (and the document rows are
 *   stored in that order, so a filter that reads every match reads them in order): the newest N matches
 *   are the first N rowids read backwards, plus the rest of the last one's minute, put in exact
 *   order from their rows;
 * - beside each term the index holds a token naming its best weight (`WEIGHT_TAG`), so each
 *   relevance score is one FTS5 query (`scoreLevels`) read newest first, best score first.
 *
 * The vector side (ImageVectorIndex) lives in the same file: `vectors` (sqlite-vector-index.ts).
 */

/** The file's layout version: a file of another version is rebuilt, like a missing one. */
const SCHEMA_VERSION = '4';
const FAMILIES: readonly ColourFamily[] = colourFamilySchema.options;
const UNIT = '\u001f';
/** Fields whose terms get the weight 3 or 2; the rest weigh 1 (SEARCH_FIELD_WEIGHTS). */
const WEIGHT_GROUPS = [3, 2] as const;
/**
 * Appended to a term, the token saying its best weight is 3 or 2 in this document (a term without
 * either weighs 1). Private-use characters: no folded search term holds one, and the ascii
 * tokenizer keeps every non-ASCII character inside its token.
 */
const WEIGHT_TAG = { 3: '\ue003', 2: '\ue002' } as const;
/** Ids per upload minute (2^20): with the minute count below 2^33, every id is a safe integer. */
const PER_MINUTE = 2 ** 20;
/** Query terms up to which each score is its own FTS5 query (3^n weight combinations). */
const MAX_LEVELLED_TERMS = 4;

/** Where the local stack keeps its search file under its data directory. */
export function searchIndexFile(dataDir: string): string {
  return join(dataDir, 'search-index', 'index.sqlite');
}

/** Why `open` found no usable index: the caller rebuilds it from the sidecars and says why. */
export type RebuildReason =
  | 'missing'
  | 'unreadable'
  | 'incomplete'
  | 'older-version'
  | 'unclean-stop'
  | 'vectors-mismatch';

/** What each reason means, for the line a person reads at start. */
export const REBUILD_REASONS: Readonly<Record<RebuildReason, string>> = {
  missing: 'there is no search index yet',
  unreadable: 'the search index file could not be read (moved aside as .unreadable)',
  incomplete: 'the last rebuild of the search index did not finish',
  'older-version': 'the search index was written by an older version',
  'unclean-stop': 'the last run stopped without closing the search index, so a write may be missing',
  'vectors-mismatch': "the search index's image vectors do not match their model's length",
};

export interface OpenedSearchIndex {
  readonly index: SqliteSearchIndex;
  /** Set when the index must be rebuilt; the unreadable file was moved aside as `<file>.unreadable`. */
  readonly rebuild?: { readonly reason: RebuildReason; readonly detail?: string };
}

/** The filters of a search (its words, sort and page are ignored). */
type SearchFilters = Pick<
  SearchQuery,
  'colours' | 'labels' | 'categories' | 'hasText' | 'uploaded' | 'state'
>;

type Row = Record<string, unknown>;

/** JavaScript string order as bytes: UTF-16 code units, big-endian. */
function keyOrder(key: string): Buffer {
  const out = Buffer.alloc(key.length * 2);
  for (let i = 0; i < key.length; i += 1) out.writeUInt16BE(key.charCodeAt(i), i * 2);
  return out;
}

/**
 * The minutes from year 0 to an ISO upload time's minute, counted so that their order is the
 * strings' order; undefined for a string not shaped like one (its document takes an unordered id).
 */
function uploadMinute(uploadedAt: string): number | undefined {
  const parts = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(uploadedAt);
  if (!parts) return undefined;
  const [year, month, day, hour, minute] = parts.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) return undefined;
  return (((year * 12 + month - 1) * 31 + day - 1) * 24 + hour) * 60 + minute;
}

/** An FTS5 string for one token (terms hold no double quote; a term is letters and digits). */
const token = (text: string) => `"${text}"`;

/** The FTS5 query matching a term whose best weight in the document is `weight`. */
function termAtWeight(term: string, weight: number): string {
  if (weight === 3 || weight === 2) return token(term + WEIGHT_TAG[weight]);
  return `((${token(term)} NOT ${token(term + WEIGHT_TAG[3])}) NOT ${token(term + WEIGHT_TAG[2])})`;
}

/**
 * One FTS5 query per relevance score, best first: the documents where the terms' best weights sum
 * to it. Every match is in exactly one, since each term has one best weight per document.
 */
function scoreLevels(terms: readonly string[]): Array<{ score: number; match: string }> {
  let combos: number[][] = [[]];
  for (const _ of terms) combos = combos.flatMap((combo) => [3, 2, 1].map((w) => [...combo, w]));
  const levels = new Map<number, string[]>();
  for (const combo of combos) {
    const score = combo.reduce((sum, w) => sum + w, 0);
    const match = combo.map((w, i) => termAtWeight(terms[i] as string, w)).join(' AND ');
    levels.set(score, [...(levels.get(score) ?? []), `(${match})`]);
  }
  return [...levels.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([score, matches]) => ({ score, match: matches.join(' OR ') }));
}

/** The relevance of a `docs` row (alias d): per term 3 when `w3` holds it, else 2 when `w2` does, else 1. */
function scoreOfRow(terms: readonly string[]): { score: string; scoreParams: string[] } {
  const score = terms
    .map(
      () => `(CASE ${WEIGHT_GROUPS.map((w) => `WHEN instr(d.w${w}, ?) > 0 THEN ${w}`).join(' ')} ELSE 1 END)`,
    )
    .join(' + ');
  return { score, scoreParams: terms.flatMap((term) => WEIGHT_GROUPS.map(() => ` ${term} `)) };
}

/** Each distinct term of the document with the best weight of the fields that hold it. */
function termWeights(fields: SearchDocument['fields']): Map<string, number> {
  const best = new Map<string, number>();
  for (const [field, text] of Object.entries(fields) as Array<[SearchField, string]>) {
    const weight = SEARCH_FIELD_WEIGHTS[field];
    for (const term of searchTerms(text)) if ((best.get(term) ?? 0) < weight) best.set(term, weight);
  }
  return best;
}

export class SqliteSearchIndex implements SearchIndex {
  private readonly statements = new Map<string, Database.Statement>();
  /** The image vectors in the same file (ImageVectorIndex). */
  readonly vectors: SqliteVectorIndex;

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
    ivf?: Partial<IvfSettings>,
  ) {
    this.vectors = new SqliteVectorIndex(db, ivf);
  }

  /**
   * Opens the index file, creating it when missing. A file SQLite cannot read, one from another
   * layout version, one whose last rebuild did not finish, or one a crash left open (a sidecar
   * event may have been lost) is replaced by an empty index and `rebuild` says why: the caller refills it from the sidecars (SidecarIndexer.rebuild) and then
   * calls `markComplete`.
   */
  static open(path: string): OpenedSearchIndex {
    mkdirSync(dirname(path), { recursive: true });
    if (!existsSync(path)) return { index: SqliteSearchIndex.create(path), rebuild: { reason: 'missing' } };
    let index: SqliteSearchIndex | undefined;
    let reason: RebuildReason | undefined;
    let mismatch: string | undefined;
    try {
      index = new SqliteSearchIndex(new Database(path), path);
      if (index.meta('schema') !== SCHEMA_VERSION) reason = 'older-version';
      else if (index.meta('complete') !== '1') reason = 'incomplete';
      else if (index.meta('clean') !== '1') reason = 'unclean-stop';
      else mismatch = SqliteVectorIndex.mismatch(index.db);
      if (mismatch) reason = 'vectors-mismatch';
    } catch (error) {
      index?.db.close();
      SqliteSearchIndex.discard(path, true);
      const detail = (error as Error).message;
      return { index: SqliteSearchIndex.create(path), rebuild: { reason: 'unreadable', detail } };
    }
    if (reason) {
      // Start again from an empty file: a record deleted meanwhile must not linger.
      index.db.close();
      SqliteSearchIndex.discard(path, false);
      return {
        index: SqliteSearchIndex.create(path),
        rebuild: { reason, ...(mismatch ? { detail: mismatch } : {}) },
      };
    }
    index.configure();
    index.setMeta('clean', '0');
    return { index };
  }

  /**
   * The file as it is, read-only, for a search beside a running stack (which keeps writing it):
   * nothing is written, not even the clean-stop mark. `unusable` says why a file cannot be searched
   * (only the stack rebuilds it, from the sidecars).
   */
  static openReadOnly(path: string): { index: SqliteSearchIndex } | { unusable: string } {
    if (!existsSync(path)) return { unusable: REBUILD_REASONS.missing };
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
      const index = new SqliteSearchIndex(db, path);
      const mismatch = SqliteVectorIndex.mismatch(db);
      const reason: RebuildReason | undefined =
        index.meta('schema') !== SCHEMA_VERSION
          ? 'older-version'
          : index.meta('complete') !== '1'
            ? 'incomplete'
            : mismatch
              ? 'vectors-mismatch'
              : undefined;
      if (!reason) return { index };
      db.close();
      return { unusable: REBUILD_REASONS[reason] + (mismatch ? ` (${mismatch})` : '') };
    } catch (error) {
      db?.close();
      return { unusable: `${REBUILD_REASONS.unreadable.split(' (')[0]} (${(error as Error).message})` };
    }
  }

  /** An index in memory (tests, or a one-off search): nothing is written to disk. */
  static inMemory(ivf?: Partial<IvfSettings>): SqliteSearchIndex {
    return SqliteSearchIndex.create(':memory:', ivf);
  }

  private static create(path: string, ivf?: Partial<IvfSettings>): SqliteSearchIndex {
    const index = new SqliteSearchIndex(new Database(path), path, ivf);
    index.configure();
    const families = FAMILIES.map((f) => `c_${f} REAL`).join(', ');
    index.db.exec(`
      CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE docs (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,
        key_order BLOB NOT NULL,
        uploaded_at TEXT NOT NULL, fast TEXT NOT NULL, detailed TEXT NOT NULL,
        has_text INTEGER NOT NULL, labels TEXT NOT NULL, categories TEXT NOT NULL,
        w3 TEXT NOT NULL, w2 TEXT NOT NULL, ${families});
      CREATE TABLE hits (id INTEGER PRIMARY KEY, hit TEXT NOT NULL);
      CREATE INDEX docs_by_date ON docs (uploaded_at DESC, key_order);
      CREATE VIRTUAL TABLE terms USING fts5(
        words, tokenize='ascii', detail=none, content='', contentless_delete=1);
      ${VECTOR_TABLES}
    `);
    index.setMeta('schema', SCHEMA_VERSION);
    index.setMeta('complete', '0');
    // Set back to 1 by close(): an index left open by a crash may have missed a sidecar event.
    index.setMeta('clean', '0');
    return index;
  }

  /** Moves an unreadable file aside (kept for a bug report) or deletes an outdated one, with its WAL. */
  private static discard(path: string, keep: boolean): void {
    for (const suffix of ['', '-wal', '-shm']) {
      if (!existsSync(path + suffix)) continue;
      if (keep) renameSync(path + suffix, `${path}.unreadable${suffix}`);
      else rmSync(path + suffix, { force: true });
    }
  }

  private configure(): void {
    if (this.path === ':memory:') return;
    // WAL: a write does not wait for a search, and a crash leaves the last committed state.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
  }

  private meta(name: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as Row | undefined;
    return row?.value as string | undefined;
  }

  private setMeta(name: string, value: string): void {
    this.db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run(name, value);
  }

  /** Runs `work` (upserts, removals) as one transaction: one commit for a batch of records. */
  batch<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  /** Marks a rebuild finished: the next open uses the file as it is. */
  markComplete(): void {
    this.setMeta('complete', '1');
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      // Queries differ only by how many terms and filters they have: a few hundred shapes at most.
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(sql, statement);
    }
    return statement;
  }

  get size(): number {
    return (this.statement('SELECT count(*) AS n FROM docs').get() as Row).n as number;
  }

  has(key: string): boolean {
    return this.statement('SELECT 1 FROM docs WHERE key = ?').get(key) !== undefined;
  }

  upsert(entry: IndexEntry): void {
    const doc = searchDocument(entry.record, {
      key: entry.key,
      ...(entry.originalName ? { originalName: entry.originalName } : {}),
    });
    const weights = termWeights(doc.fields);
    const group = (weight: number) => {
      const terms = [...weights].filter(([, w]) => w === weight).map(([t]) => t);
      return terms.length > 0 ? ` ${terms.join(' ')} ` : '';
    };
    const shares = FAMILIES.map((family) => {
      let share = 0;
      for (const c of doc.hit.colours) if (c.family === family) share += c.fraction;
      return share === 0 ? null : share;
    });
    const phrases = (list: readonly string[]) => (list.length > 0 ? `${UNIT}${list.join(UNIT)}${UNIT}` : '');
    const uploadedAt = doc.hit.uploadedAt;
    const words = [...weights]
      .map(([term, weight]) => (weight === 3 || weight === 2 ? `${term} ${term}${WEIGHT_TAG[weight]}` : term))
      .join(' ');
    this.db.transaction(() => {
      const old = this.statement('SELECT id, uploaded_at FROM docs WHERE key = ?').get(entry.key) as
        | { id: number; uploaded_at: string }
        | undefined;
      if (old) this.removeRow(old.id);
      const minute = uploadMinute(uploadedAt);
      const id =
        old && minute !== undefined && uploadMinute(old.uploaded_at) === minute
          ? old.id
          : this.orderedId(minute);
      this.statement(
        `INSERT INTO docs (id, key, key_order, uploaded_at, fast, detailed, has_text, labels, categories, w3, w2,
           ${FAMILIES.map((f) => `c_${f}`).join(', ')})
         VALUES (${Array(11 + FAMILIES.length)
           .fill('?')
           .join(', ')})`,
      ).run(
        id,
        entry.key,
        keyOrder(entry.key),
        uploadedAt,
        doc.hit.status.fast,
        doc.hit.status.detailed,
        doc.hit.text !== undefined ? 1 : 0,
        phrases(doc.labelPhrases),
        phrases(doc.categoryPhrases),
        group(3),
        group(2),
        ...shares,
      );
      this.statement('INSERT INTO hits (id, hit) VALUES (?, ?)').run(id, JSON.stringify(doc.hit));
      this.statement('INSERT INTO terms (rowid, words) VALUES (?, ?)').run(id, words);
    })();
  }

  /**
   * A free id in the upload minute's range (see the class comment); a time not shaped like an ISO
   * one, or a minute holding 2^20 documents, gets a negative id, which turns the FTS-only answers
   * off (`rowidOrderHolds`) for as long as it is there.
   */
  private orderedId(minute: number | undefined): number {
    if (minute !== undefined) {
      const first = minute * PER_MINUTE;
      const last = (
        this.statement('SELECT max(id) AS id FROM docs WHERE id >= ? AND id < ?').get(
          first,
          first + PER_MINUTE,
        ) as Row
      ).id as number | null;
      if (last === null) return first;
      if (last + 1 < first + PER_MINUTE) return last + 1;
    }
    const lowest = (this.statement('SELECT min(id) AS id FROM docs').get() as Row).id as number | null;
    return Math.min(lowest ?? 0, 0) - 1;
  }

  private removeRow(id: number): void {
    this.statement('DELETE FROM terms WHERE rowid = ?').run(id);
    this.statement('DELETE FROM docs WHERE id = ?').run(id);
    this.statement('DELETE FROM hits WHERE id = ?').run(id);
  }

  remove(key: string): void {
    this.db.transaction(() => {
      const old = this.statement('SELECT id FROM docs WHERE key = ?').get(key) as Row | undefined;
      if (old) this.removeRow(old.id as number);
    })();
  }

  /** SQL conditions on `docs` (alias d) for the query's filters, and their parameters. */
  private filters(query: SearchFilters): { sql: string[]; params: unknown[] } {
    const sql: string[] = [];
    const params: unknown[] = [];
    for (const colour of query.colours) {
      // The family's column is NULL when it is absent from the palette (a share of 0 never matches).
      sql.push(`d.c_${colour.family} >= ?`);
      params.push(colour.minFraction);
      if (colour.name !== undefined) {
        // A light/dark name ("light blue"): only that name's share counts, summed from the result.
        sql.push(
          `(SELECT sum(json_extract(c.value, '$.fraction')) FROM hits h, json_each(h.hit, '$.colours') c
            WHERE h.id = d.id AND json_extract(c.value, '$.family') = ? AND json_extract(c.value, '$.name') = ?) >= ?`,
        );
        params.push(colour.family, colour.name, colour.minFraction);
      }
    }
    for (const [column, list] of [
      ['labels', query.labels],
      ['categories', query.categories],
    ] as const) {
      for (const phrase of list) {
        sql.push(`instr(d.${column}, ?) > 0`);
        params.push(`${UNIT}${phrase}${UNIT}`);
      }
    }
    if (query.hasText !== undefined) sql.push(`d.has_text = ${query.hasText ? 1 : 0}`);
    if (query.uploaded.from) {
      sql.push('d.uploaded_at >= ?');
      params.push(query.uploaded.from);
    }
    if (query.uploaded.before) {
      sql.push('d.uploaded_at < ?');
      params.push(query.uploaded.before);
    }
    for (const stage of ['fast', 'detailed'] as const) {
      const state = query.state[stage];
      if (state) {
        sql.push(`d.${stage} = ?`);
        params.push(state);
      }
    }
    return { sql, params };
  }

  search(query: SearchQuery): SearchResponse {
    const filters = this.filters(query);
    let page: Array<{ id: number; score: number }>;
    let total: number;
    if (query.terms.length === 0) {
      const where = filters.sql.length > 0 ? `WHERE ${filters.sql.join(' AND ')}` : '';
      page = this.statement(
        `SELECT d.id, 0 AS score FROM docs d ${where} ORDER BY d.uploaded_at DESC, d.key_order LIMIT ? OFFSET ?`,
      ).all(...filters.params, query.limit, query.offset) as typeof page;
      total = (this.statement(`SELECT count(*) AS n FROM docs d ${where}`).get(...filters.params) as Row)
        .n as number;
    } else {
      ({ page, total } = this.fromTermsAlone(query) ?? this.scoredRowByRow(query, filters));
    }
    const hits = this.hits(page.map((p) => p.id));
    const results: SearchHit[] = [];
    for (const p of page) {
      const hit = hits.get(p.id);
      if (hit) results.push(hitOf({ hit }, p.score));
    }
    const next = query.offset + results.length;
    return {
      results,
      total,
      ...(next < total ? { nextCursor: encodeCursor(query, next) } : {}),
    };
  }

  /** Words with filters: every match's row is read, scored and ordered by SQLite. */
  private scoredRowByRow(
    query: SearchQuery,
    filters: { sql: string[]; params: unknown[] },
  ): { page: Array<{ id: number; score: number }>; total: number } {
    const { score, scoreParams } = scoreOfRow(query.terms);
    const match = query.terms.map(token).join(' AND ');
    const order =
      query.sort === 'relevance'
        ? 'score DESC, d.uploaded_at DESC, d.key_order'
        : 'd.uploaded_at DESC, d.key_order';
    const where = ['terms MATCH ?', ...filters.sql].join(' AND ');
    const rows = this.statement(
      `SELECT d.id, ${score} AS score, count(*) OVER () AS total
       FROM terms JOIN docs d ON d.id = terms.rowid WHERE ${where}
       ORDER BY ${order} LIMIT ? OFFSET ?`,
    ).all(...scoreParams, match, ...filters.params, query.limit, query.offset) as Array<
      Row & { id: number; score: number }
    >;
    const total =
      (rows[0]?.total as number | undefined) ??
      ((
        this.statement(
          `SELECT count(*) AS n FROM terms JOIN docs d ON d.id = terms.rowid WHERE ${where}`,
        ).get(match, ...filters.params) as Row
      ).n as number);
    return { page: rows, total };
  }

  /**
   * Words without filters, from the FTS5 index: the total is a count of the match, and the page
   * comes from reading each score's matches newest first (see the class comment). Undefined when
   * it cannot answer: filters, more than MAX_LEVELLED_TERMS terms, or a document with an unordered id.
   */
  private fromTermsAlone(
    query: SearchQuery,
  ): { page: Array<{ id: number; score: number }>; total: number } | undefined {
    if (hasFilters(query) || query.terms.length > MAX_LEVELLED_TERMS || !this.rowidOrderHolds())
      return undefined;
    const all = query.terms.map(token).join(' AND ');
    const total = (this.statement('SELECT count(*) AS n FROM terms WHERE terms MATCH ?').get(all) as Row)
      .n as number;
    const wanted = query.offset + query.limit;
    if (query.sort === 'date') {
      // Newest first whatever the score: each hit of the page still carries its score.
      const ids = this.newestMatches(all, wanted).slice(query.offset);
      const { score, scoreParams } = scoreOfRow(query.terms);
      const scores = new Map(
        this.statement(`SELECT d.id, ${score} AS score FROM json_each(?) j JOIN docs d ON d.id = j.value`)
          .raw()
          .all(...scoreParams, JSON.stringify(ids)) as Array<[number, number]>,
      );
      return { page: ids.map((id) => ({ id, score: scores.get(id) ?? 0 })), total };
    }
    const ordered: Array<{ id: number; score: number }> = [];
    for (const { score, match } of scoreLevels(query.terms)) {
      if (ordered.length >= wanted) break;
      for (const id of this.newestMatches(match, wanted - ordered.length)) ordered.push({ id, score });
    }
    return { page: ordered.slice(query.offset, wanted), total };
  }

  /** The newest `count` documents of an FTS5 match, in exact date-then-key order. */
  private newestMatches(match: string, count: number): number[] {
    const ids = this.statement('SELECT rowid FROM terms WHERE terms MATCH ? ORDER BY rowid DESC LIMIT ?')
      .pluck()
      .all(match, count) as number[];
    const last = ids[ids.length - 1];
    if (last === undefined) return ids;
    if (ids.length === count) {
      // The rest of the last one's minute may hold a later time or an earlier key: it is read too.
      const minuteStart = Math.floor(last / PER_MINUTE) * PER_MINUTE;
      const sameMinute = this.statement(
        'SELECT rowid FROM terms WHERE terms MATCH ? AND rowid >= ? AND rowid < ?',
      )
        .pluck()
        .all(match, minuteStart, last) as number[];
      // One at a time: a crowded minute can hold more ids than a spread may pass as arguments.
      for (const id of sameMinute) ids.push(id);
    }
    const exact = this.statement(
      `SELECT d.id FROM json_each(?) j JOIN docs d ON d.id = j.value
       ORDER BY d.uploaded_at DESC, d.key_order`,
    )
      .pluck()
      .all(JSON.stringify(ids)) as number[];
    return exact.slice(0, count);
  }

  /** False while a document holds an unordered (negative) id: rowid order is then not date order. */
  private rowidOrderHolds(): boolean {
    return this.statement('SELECT 1 FROM docs WHERE id < 0 LIMIT 1').get() === undefined;
  }

  /** The results (without a score) of these image keys, for neighbours and fused lists. */
  hitsOf(keys: readonly string[]): Map<string, Omit<SearchHit, 'score'>> {
    const out = new Map<string, Omit<SearchHit, 'score'>>();
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const rows = this.statement(
        `SELECT d.key, h.hit FROM docs d JOIN hits h ON h.id = d.id WHERE d.key IN (${chunk.map(() => '?').join(', ')})`,
      ).all(...chunk) as Array<{ key: string; hit: string }>;
      for (const row of rows) out.set(row.key, JSON.parse(row.hit));
    }
    return out;
  }

  private hits(ids: readonly number[]): Map<number, Omit<SearchHit, 'score'>> {
    const out = new Map<number, Omit<SearchHit, 'score'>>();
    if (ids.length === 0) return out;
    const rows = this.statement(
      `SELECT id, hit FROM hits WHERE id IN (${ids.map(() => '?').join(', ')})`,
    ).all(...ids) as Array<{ id: number; hit: string }>;
    for (const row of rows) out.set(row.id, JSON.parse(row.hit));
    return out;
  }

  /** Closes the file, marking it cleanly stopped so the next start opens it as it is. */
  close(): void {
    if (!this.db.open) return;
    if (!this.db.readonly) this.setMeta('clean', '1');
    this.statements.clear();
    this.db.close();
  }
}
