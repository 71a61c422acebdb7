import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { searchDocument } from '#engine/search/document.ts';
import { searchTerms } from '#engine/words.ts';
import { generateRecords } from './search-bench.ts';

/**
 * Throw-away comparison: SQLite FTS5 (better-sqlite3) against LanceDB on the search bench's corpus.
 * `tsx test/bench/index-choice.ts sqlite|lance N`, one engine per process so peak RSS is its own.
 */

const DIMS = 512;
function vectorOf(i: number): Float32Array {
  let s = (i * 2654435761) >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 4294967296) * 2 - 1;
  };
  let c = ((i % 64) * 2246822519) >>> 0 || 1;
  const centre = () => {
    c ^= c << 13;
    c ^= c >>> 17;
    c ^= c << 5;
    return ((c >>> 0) / 4294967296) * 2 - 1;
  };
  const v = new Float32Array(DIMS);
  let norm = 0;
  for (let d = 0; d < DIMS; d++) {
    const x = centre() + 0.6 * rnd();
    v[d] = x;
    norm += x * x;
  }
  norm = Math.sqrt(norm);
  for (let d = 0; d < DIMS; d++) v[d] = (v[d] as number) / norm;
  return v;
}

const GROUPS = {
  w3: ['caption', 'labels'],
  w2: ['categories', 'text', 'name'],
  w1: ['detailedDescription', 'answers'],
} as const;
function groupTerms(fields: Record<string, string>): { w3: string; w2: string; w1: string } {
  const best = new Map<string, number>();
  for (const [group, names] of [
    ['w3', GROUPS.w3],
    ['w2', GROUPS.w2],
    ['w1', GROUPS.w1],
  ] as const) {
    const w = Number(group.slice(1));
    for (const name of names)
      for (const t of searchTerms(fields[name] ?? '')) if ((best.get(t) ?? 0) < w) best.set(t, w);
  }
  const out = { w3: [] as string[], w2: [] as string[], w1: [] as string[] };
  for (const [t, w] of best) out[`w${w}` as 'w3'].push(t);
  return { w3: out.w3.join(' '), w2: out.w2.join(' '), w1: out.w1.join(' ') };
}

const peak = () => Math.round(process.resourceUsage().maxRSS / 1024);
const time = async (f: () => unknown, n = 30) => {
  const t: number[] = [];
  for (let i = 0; i < n + 3; i++) {
    const t0 = performance.now();
    await f();
    if (i >= 3) t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return `p50 ${t[Math.floor(n / 2)]?.toFixed(1)} ms, p95 ${t[Math.ceil(n * 0.95) - 1]?.toFixed(1)} ms`;
};
const dirSize = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce(
    (sum, e) => sum + (e.isDirectory() ? dirSize(join(dir, e.name)) : statSync(join(dir, e.name)).size),
    0,
  );

async function sqlite(count: number, dir: string) {
  const db = new Database(join(dir, 'index.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE docs (id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, uploaded_at TEXT, hit TEXT, red REAL, vec BLOB);
    CREATE VIRTUAL TABLE terms USING fts5(w3, w2, w1, tokenize='ascii', detail=column, content='', contentless_delete=1);`);
  const insDoc = db.prepare('INSERT INTO docs (key, uploaded_at, hit, red, vec) VALUES (?, ?, ?, ?, ?)');
  const insTerms = db.prepare('INSERT INTO terms (rowid, w3, w2, w1) VALUES (?, ?, ?, ?)');
  const started = performance.now();
  const batch = 5000;
  for (let from = 0; from < count; from += batch) {
    const records = generateRecords(Math.min(batch, count - from), 42 + from);
    db.transaction(() => {
      records.forEach(({ key, record }, j) => {
        const doc = searchDocument(record, { key: `${key}-${from}` });
        const red = doc.hit.colours.filter((c) => c.family === 'red').reduce((s, c) => s + c.fraction, 0);
        const v = vectorOf(from + j);
        const q = new Int8Array(DIMS);
        for (let d = 0; d < DIMS; d++) q[d] = Math.round((v[d] as number) * 127 * 8);
        const id = insDoc.run(
          doc.hit.key,
          doc.hit.uploadedAt,
          JSON.stringify(doc.hit),
          red || null,
          Buffer.from(q.buffer),
        ).lastInsertRowid;
        const g = groupTerms(doc.fields);
        insTerms.run(id, g.w3, g.w2, g.w1);
      });
    })();
  }
  const buildMs = performance.now() - started;
  console.log(
    `sqlite build ${count}: ${Math.round(buildMs)} ms, peak RSS ${peak()} MB, files ${Math.round(dirSize(dir) / 1e6)} MB`,
  );
  const twoWords =
    db.prepare(`SELECT d.id, d.hit, (CASE WHEN t.rowid IN (SELECT rowid FROM terms WHERE terms MATCH 'w3 : "dog"') THEN 3 WHEN t.rowid IN (SELECT rowid FROM terms WHERE terms MATCH 'w2 : "dog"') THEN 2 ELSE 1 END)
     + (CASE WHEN t.rowid IN (SELECT rowid FROM terms WHERE terms MATCH 'w3 : "red"') THEN 3 WHEN t.rowid IN (SELECT rowid FROM terms WHERE terms MATCH 'w2 : "red"') THEN 2 ELSE 1 END) AS score,
     count(*) OVER () AS total
     FROM terms t JOIN docs d ON d.id = t.rowid WHERE terms MATCH '"dog" AND "red"' ORDER BY score DESC, d.uploaded_at DESC, d.key LIMIT 20`);
  console.log(
    `sqlite two words (exact relevance, total): ${await time(() => twoWords.all())}, total ${(twoWords.get() as { total: number }).total}`,
  );
  const rare = db.prepare(
    `SELECT d.hit FROM terms t JOIN docs d ON d.id = t.rowid WHERE terms MATCH '"zq1a"' LIMIT 20`,
  );
  console.log(`sqlite rare word: ${await time(() => rare.all())}`);
  // Vectors: int8 copy in memory, brute force.
  const t0 = performance.now();
  const all = new Int8Array(count * DIMS);
  let i = 0;
  for (const row of db.prepare('SELECT vec FROM docs ORDER BY id').raw().iterate() as Iterable<[Buffer]>) {
    all.set(new Int8Array(row[0].buffer, row[0].byteOffset, DIMS), i * DIMS);
    i++;
  }
  console.log(`sqlite load int8 vectors: ${Math.round(performance.now() - t0)} ms, peak RSS ${peak()} MB`);
  const qv = vectorOf(12345);
  const q8 = new Int8Array(DIMS);
  for (let d = 0; d < DIMS; d++) q8[d] = Math.round((qv[d] as number) * 127 * 8);
  const scan = () => {
    let best = -Infinity;
    let bestId = -1;
    for (let r = 0; r < count; r++) {
      let s = 0;
      const o = r * DIMS;
      for (let d = 0; d < DIMS; d++) s += (all[o + d] as number) * (q8[d] as number);
      if (s > best) {
        best = s;
        bestId = r;
      }
    }
    return bestId;
  };
  console.log(`sqlite int8 brute-force kNN over ${count}: ${await time(scan, 10)}`);
  db.close();
}

/** Not a dependency: `npm i --no-save @lancedb/lancedb@0.31.0` before `index-choice.ts lance`. */
const LANCEDB = '@lancedb/lancedb';

async function lance(count: number, dir: string) {
  // biome-ignore lint/suspicious/noExplicitAny: an optional module without its types installed
  const lancedb: any = await import(LANCEDB);
  const db = await lancedb.connect(dir);
  const started = performance.now();
  const batch = 5000;
  // biome-ignore lint/suspicious/noExplicitAny: see above
  let table: any;
  for (let from = 0; from < count; from += batch) {
    const records = generateRecords(Math.min(batch, count - from), 42 + from);
    const rows = records.map(({ key, record }, j) => {
      const doc = searchDocument(record, { key: `${key}-${from}` });
      const red = doc.hit.colours.filter((c) => c.family === 'red').reduce((s, c) => s + c.fraction, 0);
      const g = groupTerms(doc.fields);
      return {
        key: doc.hit.key,
        uploaded_at: doc.hit.uploadedAt,
        hit: JSON.stringify(doc.hit),
        red,
        w3: g.w3,
        w2: g.w2,
        w1: g.w1,
        all: `${g.w3} ${g.w2} ${g.w1}`,
        vector: Array.from(vectorOf(from + j)),
      };
    });
    if (from % 20000 === 0)
      console.error(`lance: ${from} rows, ${Math.round(performance.now() - started)} ms`);
    if (!table) table = await db.createTable('docs', rows);
    else await table.add(rows);
  }
  if (!table) return;
  const addMs = performance.now() - started;
  const i0 = performance.now();
  await table.createIndex('all', {
    config: lancedb.Index.fts({
      baseTokenizer: 'whitespace',
      lowercase: false,
      stem: false,
      removeStopWords: false,
      asciiFolding: false,
      withPosition: false,
    }),
  });
  const ftsMs = performance.now() - i0;
  const v0 = performance.now();
  await table.createIndex('vector', {
    config: lancedb.Index.ivfPq({
      numPartitions: Math.max(16, Math.round(Math.sqrt(count))),
      numSubVectors: 64,
      distanceType: 'cosine',
    }),
  });
  const vecMs = performance.now() - v0;
  console.log(
    `lance build ${count}: add ${Math.round(addMs)} ms, fts index ${Math.round(ftsMs)} ms, ivf_pq index ${Math.round(vecMs)} ms, peak RSS ${peak()} MB, files ${Math.round(dirSize(dir) / 1e6)} MB`,
  );
  const { MatchQuery, Operator } = lancedb;
  const two = () =>
    table
      .query()
      .fullTextSearch(new MatchQuery('dog red', 'all', { operator: Operator.And }))
      .select(['key', 'hit'])
      .limit(20)
      .toArray();
  console.log(`lance two words (BM25 top 20, no exact relevance/total): ${await time(two)}`);
  const allTwo = () =>
    table
      .query()
      .fullTextSearch(new MatchQuery('dog red', 'all', { operator: Operator.And }))
      .select(['key'])
      .limit(count)
      .toArray();
  console.log(
    `lance two words, every match (to rank them by the shared relevance): ${await time(allTwo, 10)}, ${(await allTwo()).length} matches`,
  );
  const qv = Array.from(vectorOf(12345));
  const knn = () =>
    table
      .vectorSearch(qv)
      .distanceType('cosine')
      .nprobes(20)
      .refineFactor(5)
      .limit(20)
      .select(['key'])
      .toArray();
  console.log(`lance ivf_pq kNN: ${await time(knn)}`);
  const knnFiltered = () =>
    table
      .vectorSearch(qv)
      .distanceType('cosine')
      .where('red > 0.05')
      .nprobes(20)
      .limit(20)
      .select(['key'])
      .toArray();
  console.log(`lance ivf_pq kNN + red filter: ${await time(knnFiltered)}`);
  const u0 = performance.now();
  for (let k = 0; k < 50; k++) {
    const [{ key, record }] = generateRecords(1, 7 + k) as [{ key: string; record: never }];
    const doc = searchDocument(record, { key: `new-${k}` });
    const g = groupTerms(doc.fields);
    await table.add([
      {
        key: doc.hit.key,
        uploaded_at: doc.hit.uploadedAt,
        hit: JSON.stringify(doc.hit),
        red: 0,
        w3: g.w3,
        w2: g.w2,
        w1: g.w1,
        all: `${g.w3} ${g.w2} ${g.w1} ${key.length}`,
        vector: qv,
      },
    ]);
  }
  console.log(
    `lance 50 single-record adds: ${Math.round(performance.now() - u0)} ms; then two words ${await time(two)}`,
  );
}

const [engine = 'sqlite', n = '100000'] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), `index-choice-${engine}-`));
try {
  await (engine === 'lance' ? lance(Number(n), dir) : sqlite(Number(n), dir));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
