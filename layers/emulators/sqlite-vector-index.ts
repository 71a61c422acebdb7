import type Database from 'better-sqlite3';
import { DescribeError, expected } from '#engine/errors.ts';
import type {
  ImageVectorEntry,
  ImageVectorIndex,
  NearestOptions,
  VectorFacts,
  VectorHit,
} from '#engine/ports.ts';
import { matchesVectorFilters } from '#engine/search/vector-facts.ts';

/**
 * The local stack's persistent ImageVectorIndex, in the search index's SQLite file: an IVF
 * (inverted file) index, updated on every write and delete and opened as it is at start.
 *
 * - Each vector is kept as the record keeps it (int8 of v × 127, vector-codec.ts) with the scale
 *   that makes it unit length again, so a similarity is exact for the stored vector: nothing is
 *   lost beyond what the sidecar already rounded.
 * - Vectors are grouped in lists by their nearest centroid (`vector_lists`, clustered by list, so a
 *   list is one range of pages). A query scores the centroids, reads only the `NPROBE` nearest
 *   lists and ranks their vectors exactly: a few percent of a large collection instead of all.
 * - The centroids are trained once per model by spherical k-means on a sample, when the model
 *   holds `TRAIN_AT` vectors; until then every vector sits in the model's one unassigned list and a
 *   query reads all of them (exact, and cheap at that size).
 * - Filters run on the facts stored beside each vector (matchesVectorFilters), in rank order, so a
 *   query parses the facts of the hits it keeps, not of every candidate. When a filter leaves too
 *   few, more lists are read (4× each time, up to all of them).
 * - A list, once read, stays in memory packed in three typed arrays (`PackedList`, ~dims + 12 bytes
 *   a vector): reading a list's rows costs ~2 µs each (a Buffer and an array per row), scanning
 *   the packed list ~0.4 µs. `warm` packs every list after start; a write or delete drops the packed
 *   copy of the lists it touched, and a commit by another connection (data_version) drops them all,
 *   with the cached centroids.
 */

/** Lists per model; at a million vectors ~4 000 each. */
export const LISTS = 256;
/** Vectors a model holds when its centroids are trained. */
export const TRAIN_AT = 20_000;
/**
 * Lists read per query (besides the unassigned one): the recall/latency trade-off the bench prints.
 * On its 100 000-record corpus recall@10 was 0.96 reading 1 list, 0.99 with 2, 1.0 with 4 and 8.
 */
export const NPROBE = 4;
/** k-means runs on this many vectors per list (an even spread of those waiting), for this many rounds. */
const SAMPLE_PER_LIST = 24;
const KMEANS_ROUNDS = 6;

export interface IvfSettings {
  readonly lists: number;
  readonly trainAt: number;
  readonly nprobe: number;
}

const IVF: IvfSettings = { lists: LISTS, trainAt: TRAIN_AT, nprobe: NPROBE };

/** A vector whose length is not its model's, or not made of finite numbers. */
export class VectorShapeError extends DescribeError {
  readonly code = 'INVALID_REQUEST' as const;
  readonly permanent = true;
}

interface ModelRow {
  readonly id: number;
  readonly dims: number;
}

/** A list's vectors in memory: row r is ids[r], codes[r × dims …], scales[r]. */
interface PackedList {
  readonly ids: Float64Array;
  readonly codes: Int8Array;
  readonly scales: Float32Array;
}

interface Centroids {
  /** List ids, in the order of `vectors`. */
  readonly lists: Int32Array;
  /** LISTS × dims, unit rows. */
  readonly vectors: Float32Array;
}

/** The tables, created with the search index's own (sqlite-search-index.ts). */
export const VECTOR_TABLES = `
  CREATE TABLE vector_models (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, dims INTEGER NOT NULL);
  CREATE TABLE vectors (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, model INTEGER NOT NULL, list INTEGER NOT NULL,
    facts TEXT NOT NULL);
  CREATE TABLE vector_lists (
    list INTEGER NOT NULL, id INTEGER NOT NULL, code BLOB NOT NULL, PRIMARY KEY (list, id)) WITHOUT ROWID;
  CREATE TABLE centroids (list INTEGER PRIMARY KEY, model INTEGER NOT NULL, centroid BLOB NOT NULL);
  CREATE INDEX centroids_by_model ON centroids (model);
`;

/** The list a model's vectors wait in until its centroids are trained (centroid lists are > 0). */
const unassigned = (model: number) => -model;

/** 4 bytes of float32 scale, then the int8 components: scale × Σ q·code is the cosine similarity. */
function encode(vector: Float32Array): Buffer {
  const out = Buffer.alloc(4 + vector.length);
  let sum = 0;
  for (let d = 0; d < vector.length; d += 1) {
    const q = Math.max(-127, Math.min(127, Math.round((vector[d] as number) * 127)));
    out.writeInt8(q, 4 + d);
    sum += q * q;
  }
  out.writeFloatLE(sum > 0 ? 1 / Math.sqrt(sum) : 0, 0);
  return out;
}

function decode(code: Buffer): Float32Array {
  const scale = code.readFloatLE(0);
  const out = new Float32Array(code.length - 4);
  for (let d = 0; d < out.length; d += 1) out[d] = code.readInt8(4 + d) * scale;
  return out;
}

/** Σ query·codes over one packed row; four sums, so the additions do not wait on each other. */
function dotInt8(query: Float32Array, codes: Int8Array, offset: number): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  const dims = query.length;
  let i = 0;
  for (; i + 3 < dims; i += 4) {
    a += (query[i] as number) * (codes[offset + i] as number);
    b += (query[i + 1] as number) * (codes[offset + i + 1] as number);
    c += (query[i + 2] as number) * (codes[offset + i + 2] as number);
    d += (query[i + 3] as number) * (codes[offset + i + 3] as number);
  }
  for (; i < dims; i += 1) a += (query[i] as number) * (codes[offset + i] as number);
  return a + b + c + d;
}

function dotAt(a: Float32Array, b: Float32Array, offset: number): number {
  let sum = 0;
  for (let d = 0; d < a.length; d += 1) sum += (a[d] as number) * (b[offset + d] as number);
  return sum;
}

function normalise(v: Float32Array, from = 0, length = v.length): void {
  let sum = 0;
  for (let d = from; d < from + length; d += 1) sum += (v[d] as number) ** 2;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let d = from; d < from + length; d += 1) v[d] = (v[d] as number) / norm;
}

/** Best first, then by key (the port's order). */
function byRank(a: VectorHit, b: VectorHit): number {
  return b.similarity - a.similarity || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

type Row = Record<string, unknown>;

export class SqliteVectorIndex implements ImageVectorIndex {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly centroidCache = new Map<number, Centroids | null>();
  private readonly packed = new Map<number, PackedList>();
  /** SQLite's data_version when `packed` was last known current: another connection's commit changes it. */
  private dataVersion: number | undefined;

  private readonly ivf: IvfSettings;

  /** `ivf`: smaller lists and training threshold let tests reach the trained state quickly. */
  constructor(
    private readonly db: Database.Database,
    ivf: Partial<IvfSettings> = {},
  ) {
    this.ivf = { ...IVF, ...ivf };
  }

  /**
   * Why the stored vectors cannot be used, or undefined: a model's centroids or a sample of its
   * vectors whose length is not the model's (a file written by other code, or damaged). Reads one
   * row per model, not the whole file.
   */
  static mismatch(db: Database.Database): string | undefined {
    const models = db.prepare('SELECT id, name, dims FROM vector_models').all() as Array<
      ModelRow & { name: string }
    >;
    for (const model of models) {
      const centroid = db
        .prepare('SELECT length(centroid) AS n FROM centroids WHERE model = ? LIMIT 1')
        .get(model.id) as Row | undefined;
      if (centroid && centroid.n !== model.dims * 4) {
        return `the centroids of ${model.name} hold ${(centroid.n as number) / 4} numbers, not ${model.dims}`;
      }
      const code = db
        .prepare(
          'SELECT length(l.code) AS n FROM vectors v JOIN vector_lists l ON l.list = v.list AND l.id = v.id WHERE v.model = ? LIMIT 1',
        )
        .get(model.id) as Row | undefined;
      if (code && code.n !== model.dims + 4) {
        return `a stored vector of ${model.name} holds ${(code.n as number) - 4} numbers, not ${model.dims}`;
      }
    }
    return undefined;
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private model(name: string): ModelRow | undefined {
    return this.statement('SELECT id, dims FROM vector_models WHERE name = ?').get(name) as
      | ModelRow
      | undefined;
  }

  get size(): number {
    return (this.statement('SELECT count(*) AS n FROM vectors').get() as Row).n as number;
  }

  async upsert(entries: readonly ImageVectorEntry[]): Promise<void> {
    this.write(entries);
  }

  /** upsert, synchronously: the caller's transaction can hold it (bench, rebuild). */
  write(entries: readonly ImageVectorEntry[]): void {
    const touched = new Set<number>();
    this.db.transaction(() => {
      for (const entry of entries) touched.add(this.writeOne(entry));
    })();
    for (const model of touched) this.trainIfDue(model);
  }

  private writeOne(entry: ImageVectorEntry): number {
    const { vector } = entry;
    if (vector.length === 0)
      throw new VectorShapeError(expected('a non-empty vector', entry.key, '0 numbers'));
    for (const x of vector) {
      if (!Number.isFinite(x)) throw new VectorShapeError(expected('finite numbers', entry.key, String(x)));
    }
    let model = this.model(entry.model);
    if (!model) {
      const id = (
        this.statement('INSERT INTO vector_models (name, dims) VALUES (?, ?) RETURNING id').get(
          entry.model,
          vector.length,
        ) as Row
      ).id as number;
      model = { id, dims: vector.length };
    }
    if (vector.length !== model.dims) {
      throw new VectorShapeError(
        expected(`a vector of ${model.dims} numbers (${entry.model})`, entry.key, `${vector.length}`),
      );
    }
    this.removeOne(entry.key);
    const list = this.listOf(model.id, vector);
    this.packed.delete(list);
    const id = (
      this.statement('INSERT INTO vectors (key, model, list, facts) VALUES (?, ?, ?, ?) RETURNING id').get(
        entry.key,
        model.id,
        list,
        JSON.stringify(entry.facts),
      ) as Row
    ).id as number;
    this.statement('INSERT INTO vector_lists (list, id, code) VALUES (?, ?, ?)').run(
      list,
      id,
      encode(vector),
    );
    return model.id;
  }

  async remove(keys: readonly string[]): Promise<void> {
    this.db.transaction(() => {
      for (const key of keys) this.removeOne(key);
    })();
  }

  private removeOne(key: string): void {
    const old = this.statement('DELETE FROM vectors WHERE key = ? RETURNING id, list').get(key) as
      | { id: number; list: number }
      | undefined;
    if (old) {
      this.statement('DELETE FROM vector_lists WHERE list = ? AND id = ?').run(old.list, old.id);
      this.packed.delete(old.list);
    }
  }

  /** The stored vector of a key (similar images start from it), with its model key. */
  entry(key: string): ImageVectorEntry | undefined {
    const row = this.statement(
      `SELECT v.key, m.name, v.facts, l.code FROM vectors v JOIN vector_models m ON m.id = v.model
       JOIN vector_lists l ON l.list = v.list AND l.id = v.id WHERE v.key = ?`,
    ).get(key) as { key: string; name: string; facts: string; code: Buffer } | undefined;
    if (!row) return undefined;
    return {
      key: row.key,
      vector: decode(row.code),
      model: row.name,
      facts: JSON.parse(row.facts) as VectorFacts,
    };
  }

  private centroids(model: number): Centroids | undefined {
    const cached = this.centroidCache.get(model);
    if (cached !== undefined) return cached ?? undefined;
    const rows = this.statement('SELECT list, centroid FROM centroids WHERE model = ? ORDER BY list')
      .raw()
      .all(model) as Array<[number, Buffer]>;
    if (rows.length === 0) {
      this.centroidCache.set(model, null);
      return undefined;
    }
    const dims = (rows[0] as [number, Buffer])[1].length / 4;
    const vectors = new Float32Array(rows.length * dims);
    rows.forEach(([, blob], i) => {
      vectors.set(
        new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength)),
        i * dims,
      );
    });
    const centroids = { lists: Int32Array.from(rows, ([list]) => list), vectors };
    this.centroidCache.set(model, centroids);
    return centroids;
  }

  /** The lists of a model, nearest centroid first. */
  private listsByDistance(model: number, vector: Float32Array): number[] {
    const centroids = this.centroids(model);
    if (!centroids) return [];
    const dims = vector.length;
    const scored = Array.from(centroids.lists, (list, i) => ({
      list,
      score: dotAt(vector, centroids.vectors, i * dims),
    }));
    return scored.sort((a, b) => b.score - a.score).map((s) => s.list);
  }

  private listOf(model: number, vector: Float32Array): number {
    return this.listsByDistance(model, vector)[0] ?? unassigned(model);
  }

  /** Trains a model's centroids once it holds TRAIN_AT vectors, and moves its vectors into their lists. */
  private trainIfDue(model: number): void {
    if (this.centroids(model)) return;
    const waiting = (
      this.statement('SELECT count(*) AS n FROM vector_lists WHERE list = ?').get(unassigned(model)) as Row
    ).n as number;
    if (waiting < this.ivf.trainAt) return;
    const rows = this.statement('SELECT id, code FROM vector_lists WHERE list = ?')
      .raw()
      .all(unassigned(model)) as Array<[number, Buffer]>;
    const dims = (rows[0] as [number, Buffer])[1].length - 4;
    // An even spread of the waiting vectors: deterministic, so two builds of one corpus agree.
    const sampleSize = this.ivf.lists * SAMPLE_PER_LIST;
    const step = Math.max(1, Math.floor(rows.length / sampleSize));
    const sample: Float32Array[] = [];
    for (let i = 0; i < rows.length && sample.length < sampleSize; i += step) {
      sample.push(decode((rows[i] as [number, Buffer])[1]));
    }
    const centroids = kMeans(sample, Math.min(this.ivf.lists, sample.length), dims);
    try {
      this.writeCentroids(model, dims, centroids, rows);
    } finally {
      // Read again from the file: a failed commit (disk full, busy) must not leave lists that the
      // file does not hold cached as trained.
      this.centroidCache.delete(model);
    }
  }

  private writeCentroids(
    model: number,
    dims: number,
    centroids: Float32Array,
    rows: ReadonlyArray<[number, Buffer]>,
  ): void {
    this.db.transaction(() => {
      const insert = this.statement(
        'INSERT INTO centroids (list, model, centroid) VALUES (?, ?, ?) RETURNING list',
      );
      const first =
        ((this.statement('SELECT max(list) AS m FROM centroids').get() as Row).m as number | null) ?? 0;
      for (let c = 0; c < centroids.length / dims; c += 1) {
        const row = centroids.subarray(c * dims, (c + 1) * dims);
        insert.get(
          first + 1 + c,
          model,
          Buffer.from(row.buffer.slice(row.byteOffset, row.byteOffset + row.byteLength)),
        );
      }
      this.centroidCache.delete(model);
      this.packed.clear();
      const move = this.statement('UPDATE vector_lists SET list = ? WHERE list = ? AND id = ?');
      const moveRow = this.statement('UPDATE vectors SET list = ? WHERE id = ?');
      for (const [id, code] of rows) {
        const list = this.listOf(model, decode(code));
        move.run(list, unassigned(model), id);
        moveRow.run(list, id);
      }
    })();
  }

  async nearest(query: Float32Array, options: NearestOptions): Promise<VectorHit[]> {
    return this.nearestNow(query, options);
  }

  /** nearest, synchronously; `probe: 'all'` reads every list (the exact answer the bench compares to). */
  nearestNow(query: Float32Array, options: NearestOptions & { probe?: number | 'all' }): VectorHit[] {
    this.dropCachesIfChangedElsewhere();
    const model = this.model(options.model);
    if (!model || query.length !== model.dims || options.limit <= 0) return [];
    const order = this.listsByDistance(model.id, query);
    let probe = options.probe === 'all' ? order.length : (options.probe ?? this.ivf.nprobe);
    let read = 0;
    const ids: number[] = [];
    const scores: number[] = [];
    const readList = (list: number) => {
      const { ids: listIds, codes, scales } = this.packedList(list, model.dims);
      for (let r = 0; r < listIds.length; r += 1) {
        ids.push(listIds[r] as number);
        scores.push(dotInt8(query, codes, r * model.dims) * (scales[r] as number));
      }
    };
    readList(unassigned(model.id));
    for (;;) {
      for (; read < Math.min(probe, order.length); read += 1) readList(order[read] as number);
      const hits = this.ranked(ids, scores, options);
      if (hits.length >= options.limit || read >= order.length || !options.filter) return hits;
      // A filter left too few: read more lists.
      probe *= 4;
    }
  }

  /** A list's vectors, packed; read from the file the first time and after a write to the list. */
  private packedList(list: number, dims: number): PackedList {
    const known = this.packed.get(list);
    if (known) return known;
    const rows = this.statement('SELECT id, code FROM vector_lists WHERE list = ?').raw().all(list) as Array<
      [number, Buffer]
    >;
    const ids = new Float64Array(rows.length);
    const codes = new Int8Array(rows.length * dims);
    const scales = new Float32Array(rows.length);
    // Buffer.copy is a memory copy; a typed-array view per row cost twice the read itself.
    const target = Buffer.from(codes.buffer);
    rows.forEach(([id, code], r) => {
      ids[r] = id;
      scales[r] = code.readFloatLE(0);
      code.copy(target, r * dims, 4);
    });
    const packed = { ids, codes, scales };
    this.packed.set(list, packed);
    return packed;
  }

  private dropCachesIfChangedElsewhere(): void {
    const version = this.db.pragma('data_version', { simple: true }) as number;
    if (version !== this.dataVersion) {
      this.packed.clear();
      // Another connection may have trained a model's centroids since "none yet" was cached.
      this.centroidCache.clear();
    }
    this.dataVersion = version;
  }

  /**
   * Packs every list into memory, one list per turn of the event loop, so that searches after start
   * do not read rows; a search meanwhile packs what it needs itself. Stops when the file closes.
   */
  async warm(): Promise<void> {
    const models = this.statement('SELECT id, dims FROM vector_models').all() as ModelRow[];
    const lists = models.flatMap(
      (model): Array<[number, number]> => [
        [unassigned(model.id), model.dims],
        ...(
          this.statement('SELECT list FROM centroids WHERE model = ?').pluck().all(model.id) as number[]
        ).map((list): [number, number] => [list, model.dims]),
      ],
    );
    for (const [list, dims] of lists) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!this.db.open) return;
      this.dropCachesIfChangedElsewhere();
      this.packedList(list, dims);
    }
  }

  /** The best `limit` candidates that pass the filter, best first, ties by key. */
  private ranked(ids: readonly number[], scores: readonly number[], options: NearestOptions): VectorHit[] {
    const sorted = Float64Array.from(scores).sort();
    const lookup = this.statement('SELECT key, facts FROM vectors WHERE id = ?');
    // Only the best few candidates are ordered and looked up: more rounds when the filter or the
    // excluded key leaves too few.
    for (let wanted = (options.filter ? 8 : 1) * (options.limit + 1); ; wanted *= 8) {
      const threshold = sorted[Math.max(0, sorted.length - wanted)] ?? Number.NEGATIVE_INFINITY;
      const order: number[] = [];
      for (let i = 0; i < ids.length; i += 1) if ((scores[i] as number) >= threshold) order.push(i);
      order.sort((a, b) => (scores[b] as number) - (scores[a] as number));
      const hits: VectorHit[] = [];
      for (const i of order) {
        const score = scores[i] as number;
        // Past the limit, only an exact tie with the last hit can still change the page (ties by key).
        if (hits.length >= options.limit && score < (hits[hits.length - 1] as VectorHit).similarity) break;
        const row = lookup.get(ids[i]) as { key: string; facts: string } | undefined;
        if (!row || row.key === options.excludeKey) continue;
        if (options.filter && !matchesVectorFilters(JSON.parse(row.facts) as VectorFacts, options.filter))
          continue;
        hits.push({ key: row.key, similarity: score });
      }
      if (hits.length >= options.limit || order.length >= ids.length)
        return hits.sort(byRank).slice(0, options.limit);
    }
  }
}

/** Spherical k-means (cosine): `count` unit centroids of the sample, seeded by an even spread. */
function kMeans(sample: readonly Float32Array[], count: number, dims: number): Float32Array {
  const centroids = new Float32Array(count * dims);
  const step = sample.length / count;
  for (let c = 0; c < count; c += 1) centroids.set(sample[Math.floor(c * step)] as Float32Array, c * dims);
  const assignment = new Int32Array(sample.length);
  for (let round = 0; round < KMEANS_ROUNDS; round += 1) {
    sample.forEach((v, i) => {
      let best = 0;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < count; c += 1) {
        const score = dotAt(v, centroids, c * dims);
        if (score > bestScore) {
          bestScore = score;
          best = c;
        }
      }
      assignment[i] = best;
    });
    const sums = new Float32Array(count * dims);
    const sizes = new Int32Array(count);
    sample.forEach((v, i) => {
      const c = assignment[i] as number;
      sizes[c] = (sizes[c] as number) + 1;
      for (let d = 0; d < dims; d += 1)
        sums[c * dims + d] = (sums[c * dims + d] as number) + (v[d] as number);
    });
    for (let c = 0; c < count; c += 1) {
      // An empty list takes a sample vector again, so none stays unused.
      if (sizes[c] === 0) sums.set(sample[(c * 7919) % sample.length] as Float32Array, c * dims);
      normalise(sums, c * dims, dims);
    }
    centroids.set(sums);
  }
  return centroids;
}
