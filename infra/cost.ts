import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_SIZING,
  deriveSizing,
  FIGURE_SOURCES,
  type Figure,
  LINEUP_FIGURES,
  type LineupSizing,
  SIZING_ASSUMPTIONS,
} from './sizing.ts';

/**
 * Cost per 1000 images for the lineup's sizing, with the arithmetic shown. docs/cost.md holds the
 * generated blocks: `npx tsx infra/cost.ts --write` refreshes them, a test checks they are current.
 */

/**
 * us-east-1 list prices as the README quoted them (November 2026). Both describe functions and the
 * upload API run on arm64, so the arm64 Lambda price applies; x86_64 is shown for comparison.
 */
export const PRICES = Object.freeze({
  lambdaArm64PerGbSecond: 0.0000133334,
  lambdaX86PerGbSecond: 0.0000166667,
  lambdaPerMillionRequests: 0.2,
  s3PerThousandWrites: 0.005,
  s3PerThousandReads: 0.0004,
  sqsPerMillionRequests: 0.4,
  httpApiPerMillionRequests: 1.0,
});

/** Per-image request counts of the flow (upload → fast function → queue → worker). */
const S3_WRITES_PER_IMAGE = 3; // the upload, the fast sidecar, the detailed merge
const S3_READS_PER_IMAGE = 5; // HEAD, 2 x GET image, 2 x GET sidecar
const SQS_REQUESTS_PER_IMAGE = 3; // send, receive, delete
const UPLOAD_API_CALLS_PER_IMAGE = 6; // 1 POST + ~5 status polls (assumed), only when the API is used
const UPLOAD_API_SECONDS = 0.1; // assumed duration of one upload-API call
const UPLOAD_API_GB = 0.25; // the upload function's 256 MB

export interface CostRow {
  readonly item: string;
  readonly arithmetic: string;
  readonly usd: number;
}

const gb = (memoryMB: number) => memoryMB / 1024;
const fmt = (value: number, digits = 3) => value.toFixed(digits);
const thousands = (value: number) => Math.round(value).toLocaleString('en-US');

/** One table per 1000 images. `perGbSecond` picks the architecture's price. */
export function costPer1000(
  sizing: LineupSizing = DEFAULT_SIZING,
  perGbSecond: number = PRICES.lambdaArm64PerGbSecond,
): { rows: CostRow[]; total: number } {
  const images = 1000;
  const cold = SIZING_ASSUMPTIONS.coldShare.value * images;
  const load = SIZING_ASSUMPTIONS.coldLoadSeconds.value;
  const lambdaRow = (item: string, count: number, seconds: number, memoryMB: number, note: string) => {
    const gbSeconds = count * seconds * gb(memoryMB);
    return {
      item,
      arithmetic: `${thousands(count)} × ${seconds} s ${note}× ${memoryMB}/1024 GB = ${thousands(gbSeconds)} GB-s × ${perGbSecond}`,
      usd: gbSeconds * perGbSecond,
    };
  };
  const rows: CostRow[] = [
    lambdaRow('fast, warm', images, sizing.fast.warmSeconds, sizing.fast.memoryMB, '(assumed) '),
    lambdaRow(
      'fast, cold starts',
      cold,
      sizing.fast.coldLoadSeconds,
      sizing.fast.memoryMB,
      '(assumed load) ',
    ),
    lambdaRow('detailed, warm', images, sizing.detailed.warmSeconds, sizing.detailed.memoryMB, '(assumed) '),
    lambdaRow('detailed, cold starts', cold, load, sizing.detailed.memoryMB, '(assumed load) '),
    {
      item: 'Lambda requests',
      arithmetic: `${thousands(2 * images)} × $${PRICES.lambdaPerMillionRequests} / 1M`,
      usd: (2 * images * PRICES.lambdaPerMillionRequests) / 1e6,
    },
    {
      item: 'S3 writes',
      arithmetic: `${S3_WRITES_PER_IMAGE} per image (upload, fast sidecar, detailed merge) = ${thousands(S3_WRITES_PER_IMAGE * images)} × $${PRICES.s3PerThousandWrites} / 1000`,
      usd: (S3_WRITES_PER_IMAGE * images * PRICES.s3PerThousandWrites) / 1000,
    },
    {
      item: 'S3 reads',
      arithmetic: `${S3_READS_PER_IMAGE} per image (HEAD, 2 × GET image, 2 × GET sidecar) = ${thousands(S3_READS_PER_IMAGE * images)} × $${PRICES.s3PerThousandReads} / 1000`,
      usd: (S3_READS_PER_IMAGE * images * PRICES.s3PerThousandReads) / 1000,
    },
    {
      item: 'SQS',
      arithmetic: `send + receive + delete = ${thousands(SQS_REQUESTS_PER_IMAGE * images)} × $${PRICES.sqsPerMillionRequests} / 1M`,
      usd: (SQS_REQUESTS_PER_IMAGE * images * PRICES.sqsPerMillionRequests) / 1e6,
    },
  ];
  const calls = UPLOAD_API_CALLS_PER_IMAGE * images;
  const apiUsd =
    (calls * PRICES.httpApiPerMillionRequests) / 1e6 +
    (calls * PRICES.lambdaPerMillionRequests) / 1e6 +
    calls * UPLOAD_API_SECONDS * UPLOAD_API_GB * perGbSecond;
  rows.push({
    item: 'upload API (only if used)',
    arithmetic: `1 POST + ~5 polls (assumed): ${thousands(calls)} × $${PRICES.httpApiPerMillionRequests}/1M + ${thousands(calls)} Lambda requests + ${thousands(calls)} × ${UPLOAD_API_SECONDS} s (assumed) × ${UPLOAD_API_GB} GB × ${perGbSecond}`,
    usd: apiUsd,
  });
  return { rows, total: rows.reduce((sum, row) => sum + row.usd, 0) };
}

function figureRows(figures: Readonly<Record<string, Figure>>): string[] {
  return Object.entries(figures).map(
    ([name, f]) => `| \`${name}\` | ${f.value}${f.unit ? ` ${f.unit}` : ''} | ${f.source} | ${f.note} |`,
  );
}

function sizingBlock(): string {
  const s = DEFAULT_SIZING;
  const q = deriveSizing({ questions: 1 });
  const line = (name: string, f: LineupSizing['fast']) =>
    `| ${name} | ${f.memoryMB} MB | ${f.threads} | ${f.timeoutSeconds} s | ${f.needMB} MB | ${f.warmSeconds} s | ${f.worstSeconds} s |`;
  return [
    '| function | memory | ORT threads (vCPUs) | timeout | resident need | warm image (assumed) | worst case (assumed) |',
    '|---|---|---|---|---|---|---|',
    line('fast (caption + objects, one vision pass)', s.fast),
    line('detailed (more detailed caption + OCR)', s.detailed),
    line('detailed with 1 SmolVLM question (optional)', q.detailed),
    '',
    'How each number is derived (`deriveSizing` in infra/sizing.ts):',
    '',
    ...s.fast.derivation.map((d) => `- fast ${d}`),
    ...s.detailed.derivation.map((d) => `- detailed ${d}`),
    ...q.detailed.derivation.map((d) => `- detailed with 1 question ${d}`),
    '',
    '| figure | value | source | what |',
    '|---|---|---|---|',
    ...figureRows(LINEUP_FIGURES),
    ...figureRows(SIZING_ASSUMPTIONS),
    '',
    ...Object.entries(FIGURE_SOURCES).map(([key, text]) => `- **${key}**: ${text}.`),
  ].join('\n');
}

function costBlock(): string {
  const arm = costPer1000();
  const x86 = costPer1000(DEFAULT_SIZING, PRICES.lambdaX86PerGbSecond);
  const old = 1.69;
  const detailedShare =
    (arm.rows.filter((row) => row.item.startsWith('detailed')).reduce((sum, row) => sum + row.usd, 0) /
      arm.total) *
    100;
  return [
    `Lambda arm64 (what the stack deploys) at $${PRICES.lambdaArm64PerGbSecond} per GB-s:`,
    '',
    '| item | arithmetic | USD |',
    '|---|---|---|',
    ...arm.rows.map((row) => `| ${row.item} | ${row.arithmetic} | ${fmt(row.usd, 4)} |`),
    `| **total** | | **≈ $${fmt(arm.total, 2)}** |`,
    '',
    `The same on x86_64 ($${PRICES.lambdaX86PerGbSecond} per GB-s): ≈ $${fmt(x86.total, 2)} per 1000 images.`,
    `The old lineup (SmolVLM in the worker, 5307 MB, 20 s assumed) was ≈ $${old}; this is ${fmt((arm.total / old) * 100, 0)}% of it. The detailed worker is now ${fmt(detailedShare, 0)}% of the total (it was 85%).`,
  ].join('\n');
}

export const GENERATED_BLOCKS: Readonly<Record<string, () => string>> = {
  sizing: sizingBlock,
  cost: costBlock,
};

const begin = (name: string) => `<!-- BEGIN ${name}: generated by \`npx tsx infra/cost.ts --write\` -->`;
const end = (name: string) => `<!-- END ${name} -->`;

/** The document with every generated block replaced by its current content. */
export function renderCostDoc(doc: string): string {
  let out = doc;
  for (const [name, render] of Object.entries(GENERATED_BLOCKS)) {
    const start = out.indexOf(begin(name));
    const stop = out.indexOf(end(name));
    if (start < 0 || stop < start) throw new Error(`Expected the ${name} block markers in docs/cost.md`);
    out = `${out.slice(0, start + begin(name).length)}\n${render()}\n${out.slice(stop)}`;
  }
  return out;
}

export const COST_DOC = fileURLToPath(new URL('../docs/cost.md', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const doc = readFileSync(COST_DOC, 'utf8');
  if (process.argv.includes('--write')) writeFileSync(COST_DOC, renderCostDoc(doc));
  else for (const render of Object.values(GENERATED_BLOCKS)) console.log(`${render()}\n`);
}
