import { cpus, loadavg, totalmem } from 'node:os';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  type Colour,
  type ColourFamily,
  colourFamilySchema,
  type DescriptionRecord,
} from '#engine/record/schema.ts';
import { LocalSearchIndex } from '#engine/search/local-index.ts';
import { parseSearchQuery, type SearchParams } from '#engine/search/query.ts';

/**
 * The local search index at 10k and 100k generated sidecars: build time, memory held by the
 * index (heap and RSS growth after a full GC), and p50/p95 latency per query kind. Records come
 * from a seeded generator, so every run indexes the same corpus. `npm run bench:search`.
 * Medians and percentiles are printed, never asserted: they depend on the machine.
 */

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Park–Miller: the same corpus on every run. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 48_271) % 2_147_483_647;
    return state / 2_147_483_647;
  };
}

const NOUNS = [
  'dog',
  'cat',
  'car',
  'bicycle',
  'tree',
  'house',
  'street',
  'sign',
  'person',
  'child',
  'beach',
  'sea',
  'mountain',
  'sky',
  'cloud',
  'flower',
  'table',
  'chair',
  'window',
  'door',
  'book',
  'phone',
  'laptop',
  'cup',
  'plate',
  'pizza',
  'cake',
  'bird',
  'horse',
  'boat',
  'bridge',
  'river',
  'road',
  'train',
  'bus',
  'shop',
  'market',
  'garden',
  'field',
  'forest',
  'box',
  'bottle',
  'bag',
  'shoe',
  'hat',
  'clock',
  'lamp',
  'painting',
  'statue',
  'fountain',
  'kitchen',
  'office',
  'desk',
  'screen',
  'receipt',
  'menu',
  'poster',
];
const ADJECTIVES = [
  'red',
  'blue',
  'green',
  'yellow',
  'white',
  'black',
  'small',
  'large',
  'old',
  'new',
  'wooden',
  'metal',
  'bright',
  'dark',
  'busy',
  'empty',
  'wet',
  'sunny',
  'snowy',
  'tall',
  'round',
  'broken',
  'shiny',
  'quiet',
];
const PLACES = [
  'on a table',
  'in a park',
  'next to a road',
  'at night',
  'by the sea',
  'in a room',
  'on a street',
];
const SIGN_WORDS = [
  'OPEN',
  'CLOSED',
  'SALE',
  'EXIT',
  'STOP',
  'HOURS',
  'CAFE',
  'PARKING',
  'TOTAL',
  'MENU',
  'WELCOME',
];
const FAMILIES: readonly ColourFamily[] = colourFamilySchema.options;
/** A long tail of rare words, as real captions and OCR text have (names, codes, brands). */
const RARE = Array.from({ length: 20_000 }, (_, i) => `zq${i.toString(36)}`);

const provenance = {
  id: 'bench/model',
  revision: 'r1',
  architecture: 'bench',
  dtype: 'fp32',
  promptHash: '0',
};

export function generateRecords(
  count: number,
  seed = 42,
  first = 0,
): Array<{ key: string; record: DescriptionRecord }> {
  const r = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)] as T;
  const start = Date.parse('2025-01-01T00:00:00Z');
  const out: Array<{ key: string; record: DescriptionRecord }> = [];
  for (let i = first; i < first + count; i += 1) {
    const key = `images/${2025 + (i % 2)}/${String(i).padStart(7, '0')}.jpg`;
    const at = new Date(start + Math.floor(r() * 365 * 86_400_000)).toISOString();
    const nouns = [pick(NOUNS), pick(NOUNS)];
    const caption = `a ${pick(ADJECTIVES)} ${nouns[0]} ${pick(PLACES)}`;
    const words = Array.from({ length: 15 + Math.floor(r() * 20) }, () =>
      r() < 0.1 ? pick(RARE) : r() < 0.5 ? pick(NOUNS) : pick(ADJECTIVES),
    );
    const hasText = r() < 0.3;
    const text = hasText
      ? Array.from({ length: 1 + Math.floor(r() * 4) }, () =>
          r() < 0.2 ? String(Math.floor(r() * 100)) : pick(SIGN_WORDS),
        ).join(' ')
      : '';
    const colourCount = 3 + Math.floor(r() * 3);
    let left = 1;
    const colours: Colour[] = [];
    for (let c = 0; c < colourCount; c += 1) {
      const fraction = c === colourCount - 1 ? left : Math.round(left * (0.3 + r() * 0.5) * 10_000) / 10_000;
      left = Math.max(0, left - fraction);
      colours.push({ hex: '#808080', name: `Colour ${c}`, family: pick(FAMILIES), fraction });
    }
    out.push({
      key,
      record: {
        schemaVersion: 2,
        source: { kind: 's3', bucket: 'bench', key, size: 100_000 },
        status: {
          fast: { state: 'done', updatedAt: at },
          detailed: { state: r() < 0.9 ? 'done' : 'pending', updatedAt: at },
        },
        caption,
        detailedDescription: `The image shows ${words.join(' ')}.`,
        colours,
        text: { full: text, lines: [] },
        labels: [...new Set(nouns)],
        categories:
          r() < 0.4
            ? [{ id: pick(['animals', 'vehicles', 'food', 'signs', 'nature']), score: 0.7, evidence: [] }]
            : [],
        ...(r() < 0.2
          ? { answers: { indoor: { value: r() < 0.5, raw: r() < 0.5 ? 'yes' : 'no', model: provenance } } }
          : {}),
        models: {},
        timings: {},
        errors: {},
      },
    });
  }
  return out;
}

export const QUERY_WORDS = { NOUNS, ADJECTIVES, RARE, FAMILIES } as const;

/** Query kinds, each a function of an iteration number so the words vary across runs of one kind. */
export const QUERY_KINDS: ReadonlyArray<{ name: string; params: (i: number) => SearchParams }> = [
  { name: 'one common word', params: (i) => ({ q: NOUNS[i % NOUNS.length] as string }) },
  {
    name: 'two words (AND)',
    params: (i) => ({ q: `${ADJECTIVES[i % ADJECTIVES.length]} ${NOUNS[(i * 7) % NOUNS.length]}` }),
  },
  { name: 'rare word', params: (i) => ({ q: RARE[(i * 131) % RARE.length] as string }) },
  { name: 'word + colour filter', params: (i) => ({ q: NOUNS[i % NOUNS.length] as string, colour: 'red' }) },
  { name: 'word, sort=date', params: (i) => ({ q: NOUNS[i % NOUNS.length] as string, sort: 'date' }) },
  { name: 'colour filter only', params: (i) => ({ colour: FAMILIES[i % FAMILIES.length] as string }) },
  { name: 'no words (newest)', params: () => ({}) },
];

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

export function percentile(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round((sorted[Math.max(0, index)] as number) * 100) / 100;
}

export interface SearchBenchRow {
  readonly records: number;
  readonly buildMs: number;
  readonly heapMb: number;
  readonly rssMb: number;
  /** The first query after the build, and after one sidecar changed: each sorts the date order. */
  readonly firstQueryMs: number;
  readonly afterUpdateMs: number;
  readonly queries: ReadonlyArray<{
    kind: string;
    p50Ms: number;
    p95Ms: number;
    cpuP50Ms: number;
    medianHits: number;
  }>;
}

export function benchSearch(count: number, iterations = 200): SearchBenchRow {
  const records = generateRecords(count);
  collectGarbage();
  const before = process.memoryUsage();
  const started = performance.now();
  const index = new LocalSearchIndex();
  for (const entry of records) index.upsert(entry);
  const buildMs = Math.round(performance.now() - started);
  // The index keeps the results it returns, not the records: drop ours before measuring.
  const changed = records[0];
  records.length = 0;
  collectGarbage();
  const after = process.memoryUsage();

  // The first query after a change sorts the date order once; later ones reuse it.
  const timed = (params: SearchParams) => {
    const t0 = performance.now();
    index.search(parseSearchQuery(params));
    return Math.round((performance.now() - t0) * 10) / 10;
  };
  const firstQueryMs = timed({ q: 'dog' });
  if (changed) index.upsert(changed);
  const afterUpdateMs = timed({ q: 'dog' });

  const queries = QUERY_KINDS.map((kind) => {
    const times: number[] = [];
    const cpuTimes: number[] = [];
    const hits: number[] = [];
    for (let i = 0; i < iterations + 10; i += 1) {
      const query = parseSearchQuery(kind.params(i));
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const response = index.search(query);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      // The first ten warm the JIT.
      if (i >= 10) {
        times.push(ms);
        cpuTimes.push((cpu.user + cpu.system) / 1000);
        hits.push(response.total ?? 0);
      }
    }
    times.sort((a, b) => a - b);
    cpuTimes.sort((a, b) => a - b);
    hits.sort((a, b) => a - b);
    return {
      kind: kind.name,
      p50Ms: percentile(times, 50),
      p95Ms: percentile(times, 95),
      // CPU time of this process: what the query costs when other work shares the cores.
      cpuP50Ms: percentile(cpuTimes, 50),
      medianHits: percentile(hits, 50),
    };
  });
  return {
    records: count,
    buildMs,
    heapMb: mb(after.heapUsed - before.heapUsed),
    rssMb: mb(after.rss - before.rss),
    firstQueryMs,
    afterUpdateMs,
    queries,
  };
}

function print(rows: readonly SearchBenchRow[]): void {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `search bench, ${new Date().toISOString().slice(0, 10)}, ${cpu} × ${cpus().length}, ${mb(totalmem())} MB RAM, Node ${process.version}, load average ${loadavg()[0]?.toFixed(1)} at the end`,
  );
  console.log('\n| records | build | heap held | RSS growth | first query | first query after an update |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    console.log(
      `| ${row.records} | ${row.buildMs} ms | ${row.heapMb} MB | ${row.rssMb} MB | ${row.firstQueryMs} ms | ${row.afterUpdateMs} ms |`,
    );
  }
  console.log(
    `\n| query | ${rows.map((r) => `${r.records / 1000}k wall p50 / p95, CPU p50 (hits)`).join(' | ')} |`,
  );
  console.log(`|---|${rows.map(() => '---:').join('|')}|`);
  for (const [i, kind] of QUERY_KINDS.entries()) {
    const cells = rows.map((row) => {
      const q = row.queries[i];
      return q ? `${q.p50Ms} / ${q.p95Ms} ms, ${q.cpuP50Ms} ms (${q.medianHits})` : '';
    });
    console.log(`| ${kind.name} | ${cells.join(' | ')} |`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2]?.startsWith('--')) {
  // The persistent index at a chosen size, with its baseline: see index-bench.ts.
  // Not awaited at the top level: index-bench.ts imports this module, which must finish loading first.
  void import('./index-bench.ts').then(({ runIndexBench }) => runIndexBench(process.argv.slice(2)));
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizes = (process.argv[2] ?? '10000,100000').split(',').map(Number);
  const rows: SearchBenchRow[] = [];
  for (const size of sizes) {
    console.error(`indexing ${size} generated records…`);
    rows.push(benchSearch(size, size >= 100_000 ? 100 : 200));
  }
  print(rows);
}
