import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SqliteSearchIndex } from '#emulators/sqlite-search-index.ts';
import { LocalSearchIndex, type SearchIndex } from '#engine/search/local-index.ts';
import { parseSearchQuery } from '#engine/search/query.ts';
import { generateRecords, percentile, QUERY_KINDS, QUERY_WORDS } from './search-bench.ts';

/**
 * The persistent local index at a chosen size, against the in-memory MiniSearch index as the
 * baseline, in one run: `npm run bench:search -- --records 1000000 [--baseline 100000] [--dims 512]`.
 * Each phase runs in its own process, so its peak RSS is its own and the query phase starts cold
 * like `npm start`: building (peak RSS while building), opening the file and answering the first
 * search, then p50/p95 per query kind, nearest neighbours, and a hybrid query (keyword top 100 +
 * vector top 100, fused by reciprocal rank). Printed, never asserted.
 */

/**
 * A unit vector per record: 64 cluster centres plus noise, from the record's number alone, so a
 * query vector near a record's can be made without keeping the corpus.
 */
export function vectorOf(i: number, dims: number, noise = 0.6): Float32Array {
  const stream = (seed: number) => {
    let s = seed >>> 0 || 1;
    return () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return ((s >>> 0) / 4294967296) * 2 - 1;
    };
  };
  const centre = stream(Math.imul(i % 64, 2246822519));
  const own = stream(Math.imul(i, 2654435761));
  const v = new Float32Array(dims);
  let norm = 0;
  for (let d = 0; d < dims; d += 1) {
    const x = centre() + noise * own();
    v[d] = x;
    norm += x * x;
  }
  norm = Math.sqrt(norm);
  for (let d = 0; d < dims; d += 1) v[d] = (v[d] as number) / norm;
  return v;
}

const BATCH = 5000;
const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const round = (ms: number) => Math.round(ms * 10) / 10;

interface Timing {
  p50: number;
  p95: number;
  cpuP50: number;
}

function timed(iterations: number, run: (i: number) => void): Timing {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < iterations + 5; i += 1) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run(i);
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    // The first five warm the JIT and the page cache.
    if (i >= 5) {
      wall.push(ms);
      cpu.push((c.user + c.system) / 1000);
    }
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return { p50: percentile(wall, 50), p95: percentile(wall, 95), cpuP50: percentile(cpu, 50) };
}

/** Reciprocal rank fusion of two ranked key lists (k = 60), best first. */
function fuse(a: readonly string[], b: readonly string[], limit: number): string[] {
  const score = new Map<string, number>();
  for (const list of [a, b]) {
    for (const [rank, key] of list.entries()) score.set(key, (score.get(key) ?? 0) + 1 / (60 + rank + 1));
  }
  return [...score]
    .sort((x, y) => y[1] - x[1])
    .slice(0, limit)
    .map(([key]) => key);
}

const twoWords = (i: number) =>
  `${QUERY_WORDS.ADJECTIVES[i % QUERY_WORDS.ADJECTIVES.length]} ${QUERY_WORDS.NOUNS[(i * 7) % QUERY_WORDS.NOUNS.length]}`;

function fill(
  index: SearchIndex & { upsertVector?: (key: string, v: Float32Array) => void },
  records: number,
  dims: number,
) {
  const vectors: Float32Array[] = [];
  for (let from = 0; from < records; from += BATCH) {
    const batch = generateRecords(Math.min(BATCH, records - from), 42 + from, from);
    const write = () => {
      batch.forEach((entry, j) => {
        index.upsert(entry);
        const v = vectorOf(from + j, dims);
        if (index.upsertVector) index.upsertVector(entry.key, v);
        else vectors.push(v);
      });
    };
    if (index instanceof SqliteSearchIndex) index.batch(write);
    else write();
    if ((from + BATCH) % 100_000 === 0)
      console.error(`  ${from + BATCH} records, peak RSS ${peakRssMb()} MB`);
  }
  return vectors;
}

function keywordTimings(index: SearchIndex, iterations: number) {
  return Object.fromEntries(
    QUERY_KINDS.map((kind) => [
      kind.name,
      timed(iterations, (i) => index.search(parseSearchQuery(kind.params(i)))),
    ]),
  );
}

/** Phase: build the SQLite file with vectors; reports build time and the peak RSS while building. */
function buildSqlite(file: string, records: number, dims: number) {
  const started = performance.now();
  const { index } = SqliteSearchIndex.open(file);
  fill(index, records, dims);
  index.markComplete();
  index.close();
  const bytes = ['', '-wal'].reduce(
    (sum, s) => sum + (existsSync(file + s) ? statSync(file + s).size : 0),
    0,
  );
  return {
    buildMs: Math.round(performance.now() - started),
    peakRssMb: peakRssMb(),
    fileMb: Math.round(bytes / 1e6),
  };
}

/** Phase: a cold process opens the file (as `npm start` does) and queries it. */
function querySqlite(file: string, records: number, dims: number, iterations: number) {
  const t0 = performance.now();
  const { index, rebuild } = SqliteSearchIndex.open(file);
  if (rebuild) throw new Error(`the index asks for a rebuild: ${rebuild.reason}`);
  index.search(parseSearchQuery({ q: 'dog' }));
  const firstSearchMs = round(performance.now() - t0);
  const keyword = keywordTimings(index, iterations);
  const queryVector = (i: number) => vectorOf(records + i, dims);
  const n0 = performance.now();
  index.nearest(queryVector(0), { limit: 20 });
  const firstNearestMs = round(performance.now() - n0);
  const nearest = timed(iterations, (i) => index.nearest(queryVector(i), { limit: 20 }));
  const red = parseSearchQuery({ colour: 'red' });
  const nearestFiltered = timed(Math.min(iterations, 30), (i) =>
    index.nearest(queryVector(i), { limit: 20, filters: red }),
  );
  const hybrid = timed(iterations, (i) => {
    const words = index.search(parseSearchQuery({ q: twoWords(i), limit: '100' })).results.map((h) => h.key);
    const near = index.nearest(queryVector(i), { limit: 100 }).map((n) => n.key);
    index.hitsOf(fuse(words, near, 20));
  });
  // Recall@10 of the sign-code scan against an exact scan of every stored vector.
  let found = 0;
  const probes = 3;
  for (let p = 0; p < probes; p += 1) {
    const q = queryVector(p);
    const exact = index.exactNearest(q, 10).map((n) => n.key);
    const approx = new Set(index.nearest(q, { limit: 10 }).map((n) => n.key));
    found += exact.filter((key) => approx.has(key)).length;
  }
  index.close();
  return {
    firstSearchMs,
    firstNearestMs,
    keyword,
    nearest,
    nearestFiltered,
    hybrid,
    recallAt10: found / (probes * 10),
    peakRssMb: peakRssMb(),
  };
}

/** Phase: the in-memory index as `npm start` used it (rebuilt at every start) and an exact vector scan. */
function baseline(records: number, dims: number, iterations: number) {
  const started = performance.now();
  const index = new LocalSearchIndex();
  const vectors = fill(index, records, dims);
  const buildMs = Math.round(performance.now() - started);
  const buildRssMb = peakRssMb();
  const keyword = keywordTimings(index, iterations);
  const scan = (q: Float32Array, limit: number) => {
    const scored = vectors.map((v, i) => {
      let dot = 0;
      for (let d = 0; d < dims; d += 1) dot += (v[d] as number) * (q[d] as number);
      return { i, dot };
    });
    return scored.sort((a, b) => b.dot - a.dot).slice(0, limit);
  };
  const nearest = timed(Math.min(iterations, 20), (i) => scan(vectorOf(records + i, dims), 20));
  return { buildMs, peakRssMb: buildRssMb, keyword, nearest };
}

const PHASES = { buildSqlite, querySqlite, baseline } as const;

function runPhase(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--phase', ...args], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let out = '';
    child.stdout?.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`phase ${args[0]} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}'));
    });
  });
}

const cell = (t: Timing | undefined) => (t ? `${t.p50} / ${t.p95} ms, CPU ${t.cpuP50} ms` : '');

export async function runIndexBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      records: { type: 'string', default: '100000' },
      baseline: { type: 'string' },
      dims: { type: 'string', default: '512' },
      iterations: { type: 'string', default: '50' },
      dir: { type: 'string' },
    },
  });
  const records = Number(values.records);
  const baselineRecords = Number(values.baseline ?? Math.min(records, 100_000));
  const dims = Number(values.dims);
  const iterations = String(Number(values.iterations));
  const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'search-index-bench-'));
  const file = join(dir, 'search-index.sqlite');
  try {
    console.error(`building the SQLite index: ${records} records, ${dims}-dim vectors…`);
    const build = await runPhase(['buildSqlite', file, String(records), String(dims)]);
    console.error('querying it from a cold process…');
    const query = (await runPhase([
      'querySqlite',
      file,
      String(records),
      String(dims),
      iterations,
    ])) as ReturnType<typeof querySqlite>;
    console.error(`baseline: the in-memory index at ${baselineRecords} records…`);
    const base = (await runPhase([
      'baseline',
      String(baselineRecords),
      String(dims),
      iterations,
    ])) as ReturnType<typeof baseline>;
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    console.log(
      `index bench, ${new Date().toISOString().slice(0, 10)}, ${cpu} × ${cpus().length}, ${Math.round(totalmem() / 2 ** 20)} MB RAM, Node ${process.version}, load average ${loadavg()[0]?.toFixed(1)} at the end`,
    );
    console.log(
      `\n| | SQLite file, ${records} records | baseline: in memory (MiniSearch), ${baselineRecords} records |`,
    );
    console.log('|---|---:|---:|');
    console.log(
      `| build | ${build.buildMs} ms, ${build.fileMb} MB file | ${base.buildMs} ms (at every start) |`,
    );
    console.log(
      `| peak RSS while building (target ≤ 1536 MB) | ${build.peakRssMb} MB | ${base.peakRssMb} MB |`,
    );
    console.log(
      `| cold start: open + first search (target ≤ 5000 ms) | ${query.firstSearchMs} ms | ${base.buildMs} ms (rebuild) |`,
    );
    for (const kind of QUERY_KINDS) {
      console.log(`| ${kind.name} | ${cell(query.keyword[kind.name])} | ${cell(base.keyword[kind.name])} |`);
    }
    console.log(
      `| nearest 20 (${dims} dims) | ${cell(query.nearest)}; first ${query.firstNearestMs} ms (loads the codes); recall@10 ${query.recallAt10} | ${cell(base.nearest)} (exact scan) |`,
    );
    console.log(`| nearest 20 + colour filter | ${cell(query.nearestFiltered)} | |`);
    console.log(
      `| hybrid: two words top 100 + nearest 100, fused (target p95 ≤ 150 ms) | ${cell(query.hybrid)} | |`,
    );
    console.log(`| peak RSS while querying | ${query.peakRssMb} MB | |`);
  } finally {
    if (!values.dir) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--phase') {
  const [name, ...rest] = process.argv.slice(3);
  const phase = PHASES[name as keyof typeof PHASES] as (...args: Array<string | number>) => unknown;
  const args = rest.map((a, i) => (i === 0 && name !== 'baseline' ? a : Number(a)));
  console.log(JSON.stringify(phase(...args)));
}
