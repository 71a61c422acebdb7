import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DescribeError, expected } from '#engine/errors.ts';
import { type ColourFamily, colourFamilySchema } from '#engine/record/schema.ts';
import {
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
 * - ties order by `uploaded_at` and then by `key_order`, the key as UTF-16 big-endian bytes, whose
 *   byte order is JavaScript's string order (SQLite compares UTF-8, which differs past U+FFFF).
 *
 * The vector side (ImageVectorIndex): one unit vector per image key, stored as float32. Nearest
 * neighbours are found by a scan of 1-bit sign codes held in memory (dims/8 bytes per image, loaded
 * on the first vector query) by Hamming distance, then the best candidates are re-scored by the
 * exact dot product read back from the file. Filters run first as SQL over the same columns.
 */

/** The file's layout version: a file of another version is rebuilt, like a missing one. */
const SCHEMA_VERSION = '1';
const FAMILIES: readonly ColourFamily[] = colourFamilySchema.options;
const UNIT = '\u001f';
/** Fields whose terms get the weight 3 or 2; the rest weigh 1 (SEARCH_FIELD_WEIGHTS). */
const WEIGHT_GROUPS = [3, 2] as const;

/** Why `open` found no usable index: the caller rebuilds it from the sidecars and says why. */
export type RebuildReason = 'missing' | 'unreadable' | 'incomplete' | 'older-version' | 'unclean-stop';

/** What each reason means, for the line a person reads at start. */
export const REBUILD_REASONS: Readonly<Record<RebuildReason, string>> = {
  missing: 'there is no search index yet',
  unreadable: 'the search index file could not be read (moved aside as .unreadable)',
  incomplete: 'the last rebuild of the search index did not finish',
  'older-version': 'the search index was written by an older version',
  'unclean-stop': 'the last run stopped without closing the search index, so a write may be missing',
};

export interface OpenedSearchIndex {
  readonly index: SqliteSearchIndex;
  /** Set when the index must be rebuilt; the unreadable file was moved aside as `<file>.unreadable`. */
  readonly rebuild?: { readonly reason: RebuildReason; readonly detail?: string };
}

/** A vector whose length is not the index's, or not a finite unit-ish vector. */
export class VectorShapeError extends DescribeError {
  readonly code = 'INVALID_REQUEST' as const;
  readonly permanent = true;
}

export interface NearestOptions {
  /** How many neighbours; default 20. */
  readonly limit?: number;
  /** The filters of a search (its words, sort and page are ignored). */
  readonly filters?: Pick<
    SearchQuery,
    'colours' | 'labels' | 'categories' | 'hasText' | 'uploaded' | 'state'
  >;
  /** Leave this key out (the image whose neighbours are asked for). */
  readonly exclude?: string;
}

export interface Neighbour {
  readonly key: string;
  /** Cosine similarity (dot product of unit vectors), -1..1. */
  readonly similarity: number;
}

type Row = Record<string, unknown>;

/** JavaScript string order as bytes: UTF-16 code units, big-endian. */
function keyOrder(key: string): Buffer {
  const out = Buffer.alloc(key.length * 2);
  for (let i = 0; i < key.length; i += 1) out.writeUInt16BE(key.charCodeAt(i), i * 2);
  return out;
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

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

function signCode(vector: Float32Array, words: number): Uint32Array {
  const code = new Uint32Array(words);
  for (let d = 0; d < vector.length; d += 1) {
    if ((vector[d] as number) > 0) code[d >>> 5] = (code[d >>> 5] as number) | (1 << (d & 31));
  }
  return code;
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let d = 0; d < a.length; d += 1) sum += (a[d] as number) * (b[d] as number);
  return sum;
}

/** Most similar first, then by key. */
function bySimilarity(a: Neighbour, b: Neighbour): number {
  return b.similarity - a.similarity || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

function float32(vector: ArrayLike<number>): Float32Array {
  return vector instanceof Float32Array ? vector : Float32Array.from(vector);
}

export class SqliteSearchIndex implements SearchIndex {
  private readonly statements = new Map<string, Database.Statement>();
  /** Sign codes of every stored vector, loaded on the first nearest(); undefined until then. */
  private codes:
    | { rowids: Int32Array; bits: Uint32Array; count: number; slotOf: Map<number, number> }
    | undefined;

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

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
    try {
      index = new SqliteSearchIndex(new Database(path), path);
      if (index.meta('schema') !== SCHEMA_VERSION) reason = 'older-version';
      else if (index.meta('complete') !== '1') reason = 'incomplete';
      else if (index.meta('clean') !== '1') reason = 'unclean-stop';
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
      return { index: SqliteSearchIndex.create(path), rebuild: { reason } };
    }
    index.configure();
    index.setMeta('clean', '0');
    return { index };
  }

  /** An index in memory (tests, or a one-off search): nothing is written to disk. */
  static inMemory(): SqliteSearchIndex {
    return SqliteSearchIndex.create(':memory:');
  }

  private static create(path: string): SqliteSearchIndex {
    const index = new SqliteSearchIndex(new Database(path), path);
    index.configure();
    const families = FAMILIES.map((f) => `c_${f} REAL`).join(', ');
    index.db.exec(`
      CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE docs (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, key_order BLOB NOT NULL,
        uploaded_at TEXT NOT NULL, fast TEXT NOT NULL, detailed TEXT NOT NULL,
        has_text INTEGER NOT NULL, labels TEXT NOT NULL, categories TEXT NOT NULL,
        w3 TEXT NOT NULL, w2 TEXT NOT NULL, ${families}, hit TEXT NOT NULL);
      CREATE INDEX docs_by_date ON docs (uploaded_at DESC, key_order);
      CREATE VIRTUAL TABLE terms USING fts5(
        words, tokenize='ascii', detail=none, content='', contentless_delete=1);
      CREATE TABLE vectors (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, vector BLOB NOT NULL, code BLOB NOT NULL);
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
    this.db.transaction(() => {
      const old = this.statement('SELECT id FROM docs WHERE key = ?').get(entry.key) as Row | undefined;
      if (old) this.statement('DELETE FROM terms WHERE rowid = ?').run(old.id);
      const row = this.statement(
        `INSERT INTO docs (key, key_order, uploaded_at, fast, detailed, has_text, labels, categories, w3, w2,
           ${FAMILIES.map((f) => `c_${f}`).join(', ')}, hit)
         VALUES (${Array(11 + FAMILIES.length)
           .fill('?')
           .join(', ')})
         ON CONFLICT (key) DO UPDATE SET key_order = excluded.key_order, uploaded_at = excluded.uploaded_at,
           fast = excluded.fast, detailed = excluded.detailed, has_text = excluded.has_text,
           labels = excluded.labels, categories = excluded.categories, w3 = excluded.w3, w2 = excluded.w2,
           ${FAMILIES.map((f) => `c_${f} = excluded.c_${f}`).join(', ')}, hit = excluded.hit
         RETURNING id`,
      ).get(
        entry.key,
        keyOrder(entry.key),
        doc.hit.uploadedAt,
        doc.hit.status.fast,
        doc.hit.status.detailed,
        doc.hit.text !== undefined ? 1 : 0,
        phrases(doc.labelPhrases),
        phrases(doc.categoryPhrases),
        group(3),
        group(2),
        ...shares,
        JSON.stringify(doc.hit),
      ) as Row;
      this.statement('INSERT INTO terms (rowid, words) VALUES (?, ?)').run(
        row.id,
        [...weights.keys()].join(' '),
      );
    })();
  }

  remove(key: string): void {
    this.db.transaction(() => {
      const old = this.statement('SELECT id FROM docs WHERE key = ?').get(key) as Row | undefined;
      if (old) {
        this.statement('DELETE FROM terms WHERE rowid = ?').run(old.id);
        this.statement('DELETE FROM docs WHERE id = ?').run(old.id);
      }
      this.removeVectorRow(key);
    })();
  }

  /** SQL conditions on `docs` (alias d) for the query's filters, and their parameters. */
  private filters(query: NonNullable<NearestOptions['filters']>): { sql: string[]; params: unknown[] } {
    const sql: string[] = [];
    const params: unknown[] = [];
    for (const colour of query.colours) {
      // The family's column is NULL when it is absent from the palette (a share of 0 never matches).
      sql.push(`d.c_${colour.family} >= ?`);
      params.push(colour.minFraction);
      if (colour.name !== undefined) {
        // A light/dark name ("light blue"): only that name's share counts, summed from the result.
        sql.push(
          `(SELECT sum(json_extract(c.value, '$.fraction')) FROM json_each(d.hit, '$.colours') c
            WHERE json_extract(c.value, '$.family') = ? AND json_extract(c.value, '$.name') = ?) >= ?`,
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
      // Per term: 3 when a weight-3 field holds it, else 2 when a weight-2 field does, else 1.
      const score = query.terms
        .map(
          () =>
            `(CASE ${WEIGHT_GROUPS.map((w) => `WHEN instr(d.w${w}, ?) > 0 THEN ${w}`).join(' ')} ELSE 1 END)`,
        )
        .join(' + ');
      const scoreParams = query.terms.flatMap((term) => WEIGHT_GROUPS.map(() => ` ${term} `));
      const match = query.terms.map((term) => `"${term}"`).join(' AND ');
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
      page = rows;
      total =
        (rows[0]?.total as number | undefined) ??
        ((
          this.statement(
            `SELECT count(*) AS n FROM terms JOIN docs d ON d.id = terms.rowid WHERE ${where}`,
          ).get(match, ...filters.params) as Row
        ).n as number);
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

  /** The results (without a score) of these image keys, for neighbours and fused lists. */
  hitsOf(keys: readonly string[]): Map<string, Omit<SearchHit, 'score'>> {
    const out = new Map<string, Omit<SearchHit, 'score'>>();
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const rows = this.statement(
        `SELECT key, hit FROM docs WHERE key IN (${chunk.map(() => '?').join(', ')})`,
      ).all(...chunk) as Array<{ key: string; hit: string }>;
      for (const row of rows) out.set(row.key, JSON.parse(row.hit));
    }
    return out;
  }

  private hits(ids: readonly number[]): Map<number, Omit<SearchHit, 'score'>> {
    const out = new Map<number, Omit<SearchHit, 'score'>>();
    if (ids.length === 0) return out;
    const rows = this.statement(
      `SELECT id, hit FROM docs WHERE id IN (${ids.map(() => '?').join(', ')})`,
    ).all(...ids) as Array<{ id: number; hit: string }>;
    for (const row of rows) out.set(row.id, JSON.parse(row.hit));
    return out;
  }

  // ---- vectors (ImageVectorIndex) ----

  private get dims(): number | undefined {
    const value = this.meta('dims');
    return value === undefined ? undefined : Number(value);
  }

  private checkShape(vector: Float32Array, what: string): void {
    const dims = this.dims;
    if (dims !== undefined && vector.length !== dims) {
      throw new VectorShapeError(expected(`a vector of ${dims} numbers`, what, `${vector.length}`));
    }
    for (const x of vector) {
      if (!Number.isFinite(x)) throw new VectorShapeError(expected('finite numbers', what, String(x)));
    }
  }

  /** Stores the image's unit vector, replacing any earlier one. */
  upsertVector(key: string, vector: ArrayLike<number>): void {
    const v = float32(vector);
    this.checkShape(v, 'vector');
    if (v.length === 0) throw new VectorShapeError(expected('a non-empty vector', 'vector', '0 numbers'));
    this.db.transaction(() => {
      if (this.dims === undefined) this.setMeta('dims', String(v.length));
      const code = signCode(v, this.words());
      const row = this.statement(
        `INSERT INTO vectors (key, vector, code) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET vector = excluded.vector, code = excluded.code RETURNING id`,
      ).get(key, Buffer.from(v.buffer, v.byteOffset, v.byteLength), Buffer.from(code.buffer)) as Row;
      this.setCode(row.id as number, code);
    })();
  }

  /** Drops the image's vector (the record stays searchable by words). */
  removeVector(key: string): void {
    this.db.transaction(() => this.removeVectorRow(key))();
  }

  private removeVectorRow(key: string): void {
    const row = this.statement('DELETE FROM vectors WHERE key = ? RETURNING id').get(key) as Row | undefined;
    if (row && this.codes) {
      const slot = this.codes.slotOf.get(row.id as number);
      if (slot !== undefined) {
        this.codes.rowids[slot] = -1;
        this.codes.slotOf.delete(row.id as number);
      }
    }
  }

  get vectorCount(): number {
    return (this.statement('SELECT count(*) AS n FROM vectors').get() as Row).n as number;
  }

  private words(): number {
    return Math.ceil((this.dims ?? 0) / 32);
  }

  private loadCodes(): NonNullable<SqliteSearchIndex['codes']> {
    if (this.codes) return this.codes;
    const words = this.words();
    const capacity = Math.max(1024, this.vectorCount + 1024);
    const codes = {
      rowids: new Int32Array(capacity),
      bits: new Uint32Array(capacity * words),
      count: 0,
      slotOf: new Map<number, number>(),
    };
    this.codes = codes;
    // The codes are stored beside the vectors: loading reads dims/8 bytes per image, not dims × 4.
    for (const [id, blob] of this.statement('SELECT id, code FROM vectors').raw().iterate() as Iterable<
      [number, Buffer]
    >) {
      this.setCode(
        id,
        new Uint32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength)),
      );
    }
    return codes;
  }

  private setCode(id: number, code: Uint32Array): void {
    const codes = this.codes;
    if (!codes) return;
    const words = this.words();
    let slot = codes.slotOf.get(id);
    if (slot === undefined) {
      if (codes.count === codes.rowids.length) {
        const rowids = new Int32Array(codes.rowids.length * 2);
        rowids.set(codes.rowids);
        const bits = new Uint32Array(rowids.length * words);
        bits.set(codes.bits);
        codes.rowids = rowids;
        codes.bits = bits;
      }
      slot = codes.count;
      codes.count += 1;
      codes.slotOf.set(id, slot);
    }
    codes.rowids[slot] = id;
    codes.bits.set(code, slot * words);
  }

  /**
   * The images nearest to `vector` (cosine similarity of unit vectors), best first, ties by key,
   * among those passing the filters. Candidates come from the Hamming distance of sign codes; the
   * best `max(10 × limit, 200)` are re-scored exactly.
   */
  nearest(vector: ArrayLike<number>, options: NearestOptions = {}): Neighbour[] {
    const limit = options.limit ?? 20;
    const q = float32(vector);
    if (this.dims === undefined) return [];
    this.checkShape(q, 'vector');
    const codes = this.loadCodes();
    const words = this.words();
    const qCode = signCode(q, words);

    let allowed: Uint8Array | undefined;
    const filters = options.filters ? this.filters(options.filters) : undefined;
    if (filters && filters.sql.length > 0) {
      const maxId = (this.statement('SELECT max(id) AS m FROM vectors').get() as Row).m as number | null;
      allowed = new Uint8Array((maxId ?? 0) + 1);
      for (const [id] of this.statement(
        `SELECT v.id FROM vectors v JOIN docs d ON d.key = v.key WHERE ${filters.sql.join(' AND ')}`,
      )
        .raw()
        .iterate(...filters.params) as Iterable<[number]>) {
        allowed[id] = 1;
      }
    }

    // Hamming distance per slot, and how many slots have each distance.
    const maxDistance = words * 32;
    const distances = new Uint16Array(codes.count);
    const histogram = new Uint32Array(maxDistance + 2);
    const { rowids, bits } = codes;
    for (let slot = 0; slot < codes.count; slot += 1) {
      const id = rowids[slot] as number;
      if (id < 0 || (allowed && allowed[id] !== 1)) {
        distances[slot] = maxDistance + 1;
        continue;
      }
      let distance = 0;
      const base = slot * words;
      for (let w = 0; w < words; w += 1)
        distance += popcount((bits[base + w] as number) ^ (qCode[w] as number));
      distances[slot] = distance;
      histogram[distance] = (histogram[distance] as number) + 1;
    }
    const wanted = Math.max(limit * 10, 200);
    // The smallest distance within which `wanted` candidates lie (all of them when fewer pass).
    let threshold = 0;
    for (let seen = histogram[0] as number; seen < wanted && threshold < maxDistance; ) {
      threshold += 1;
      seen += histogram[threshold] as number;
    }
    const candidates: number[] = [];
    for (let slot = 0; slot < codes.count; slot += 1) {
      if ((distances[slot] as number) <= threshold) candidates.push(rowids[slot] as number);
    }

    const scored: Neighbour[] = [];
    const read = this.statement('SELECT key, vector FROM vectors WHERE id = ?');
    for (const id of candidates) {
      const row = read.get(id) as { key: string; vector: Buffer } | undefined;
      if (!row || row.key === options.exclude) continue;
      const v = new Float32Array(row.vector.buffer, row.vector.byteOffset, row.vector.byteLength / 4);
      scored.push({ key: row.key, similarity: dot(v, q) });
    }
    return scored.sort(bySimilarity).slice(0, limit);
  }

  /** Exact neighbours by reading every stored vector: what `nearest` approximates (benchmarks). */
  exactNearest(vector: ArrayLike<number>, limit: number): Neighbour[] {
    const q = float32(vector);
    const scored: Neighbour[] = [];
    for (const [key, blob] of this.statement('SELECT key, vector FROM vectors').raw().iterate() as Iterable<
      [string, Buffer]
    >) {
      scored.push({
        key,
        similarity: dot(new Float32Array(blob.buffer, blob.byteOffset, blob.byteLength / 4), q),
      });
    }
    return scored.sort(bySimilarity).slice(0, limit);
  }

  /** Closes the file, marking it cleanly stopped so the next start opens it as it is. */
  close(): void {
    if (!this.db.open) return;
    this.setMeta('clean', '1');
    this.statements.clear();
    this.db.close();
  }
}
