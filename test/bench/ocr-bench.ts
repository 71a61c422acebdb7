import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { intakeImage } from '#engine/image/intake.ts';
import { createTextReader, type TextReader } from '#engine/ocr/text-reader.ts';
import {
  allTextImages,
  allTextPage,
  characterErrorRate,
  renderTextImage,
  sizedTextImage,
  skyPhoto,
  type TextCategory,
  wordRecall,
} from '#test/fixtures/text-images.ts';

/**
 * OCR accuracy and speed on the rendered evaluation set (test/fixtures/text-images.ts):
 * CER and word recall per category and on the clear-English subset, median wall and CPU ms per
 * image by image size, model load time and peak RSS. Run alone: `npx tsx test/bench/ocr-bench.ts`.
 */

export interface OcrBenchReport {
  readonly threads: number;
  readonly loadMs: number;
  readonly accuracy: ReadonlyArray<{ category: string; images: number; cer: number; wordRecall: number }>;
  readonly cases: ReadonlyArray<{
    name: string;
    category: TextCategory;
    cer: number;
    wordRecall: number;
    text: string;
  }>;
  readonly speed: ReadonlyArray<{
    size: string;
    readerInput: string;
    megapixels: number;
    medianMs: number;
    medianCpuMs: number;
    lines: number;
  }>;
  /** Process RSS right after the three sessions loaded (before any image was rendered or read). */
  readonly rssAfterLoadMb: number;
  /** Includes rendering the evaluation set with sharp in the same process. */
  readonly peakRssMb: number;
  readonly loadAverage: number;
}

const INTAKE_LIMITS = { maxInputBytes: 200 * 1024 * 1024, maxInputPixels: 100_000_000, workingSize: 1024 };

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

async function timed(reader: TextReader, image: Parameters<TextReader['read']>[0], runs: number) {
  const wall: number[] = [];
  const cpu: number[] = [];
  let lines = 0;
  for (let i = 0; i < runs; i++) {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    const result = await reader.read(image);
    wall.push(performance.now() - start);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / 1000);
    lines = result.lines.length;
  }
  return { medianMs: round(median(wall)), medianCpuMs: round(median(cpu)), lines };
}

export async function runOcrBench(
  options: { threads?: number; runs?: number } = {},
): Promise<OcrBenchReport> {
  const threads = options.threads ?? 2;
  const runs = options.runs ?? 5;
  const loadStart = performance.now();
  const reader = await createTextReader({ threads });
  const loadMs = round(performance.now() - loadStart);
  const rssAfterLoadMb = round(process.memoryUsage().rss / 1024 / 1024);
  let peakRss = process.memoryUsage().rss;
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  try {
    const cases: Array<OcrBenchReport['cases'][number] & { clear: boolean }> = [];
    for (const spec of allTextImages()) {
      const rendered = await renderTextImage(spec);
      const result = await reader.read(rendered.rgb);
      sample();
      cases.push({
        name: spec.name,
        category: spec.category,
        clear: spec.clear,
        cer: round(characterErrorRate(result.full, rendered.expected), 4),
        wordRecall: round(wordRecall(result.full, rendered.expected), 4),
        text: result.full,
      });
    }
    const group = (category: string, members: typeof cases) => ({
      category,
      images: members.length,
      cer: round(members.reduce((s, c) => s + c.cer, 0) / members.length, 4),
      wordRecall: round(members.reduce((s, c) => s + c.wordRecall, 0) / members.length, 4),
    });
    const categories = [...new Set(cases.map((c) => c.category))];
    const accuracy = [
      group(
        'clear English ≥ 20 px (target CER ≤ 5 %)',
        cases.filter((c) => c.clear),
      ),
      ...categories.map((category) =>
        group(
          category,
          cases.filter((c) => c.category === category),
        ),
      ),
      group('all', cases),
    ];

    const speed: OcrBenchReport['speed'][number][] = [];
    for (const [label, width, height] of [
      ['0.3 MP (640×480)', 640, 480],
      ['1 MP (1155×866)', 1155, 866],
      ['1 MP (1024×1024)', 1024, 1024],
      ['3 MP (2000×1500)', 2000, 1500],
      ['no text, 1 MP sky (1155×866)', 1155, 866],
      ['all text, 1 MP page of 60 lines (1024×1024)', 1024, 1024],
    ] as const) {
      const source = label.startsWith('no text')
        ? await skyPhoto(width, height)
        : label.startsWith('all text')
          ? await allTextPage(60, width, height)
          : await sizedTextImage(width, height);
      // What the engine hands the reader: the upload through intake, longest side ≤ working size.
      const png = await sharp(source.data, {
        raw: { width: source.width, height: source.height, channels: 3 },
      })
        .png()
        .toBuffer();
      const { image } = await intakeImage(png, INTAKE_LIMITS);
      await reader.read(image);
      speed.push({
        size: label,
        readerInput: `${image.width}×${image.height}`,
        megapixels: round((width * height) / 1e6, 2),
        ...(await timed(reader, image, runs)),
      });
      sample();
    }
    return {
      threads,
      loadMs,
      accuracy,
      cases: cases.map(({ clear: _clear, ...rest }) => rest),
      speed,
      rssAfterLoadMb,
      peakRssMb: round(peakRss / 1024 / 1024),
      loadAverage: round((await import('node:os')).loadavg()[0] as number, 2),
    };
  } finally {
    await reader.dispose();
  }
}

export function printOcrBench(report: OcrBenchReport): void {
  console.log(`\nOCR (PP-OCRv4, ${report.threads} threads; 1-min load average ${report.loadAverage})`);
  console.log(
    `model load ${report.loadMs} ms, RSS after load ${report.rssAfterLoadMb} MB, peak RSS ${report.peakRssMb} MB`,
  );
  console.table(
    report.accuracy.map((a) => ({
      ...a,
      cer: `${round(a.cer * 100, 2)} %`,
      wordRecall: `${round(a.wordRecall * 100, 1)} %`,
    })),
  );
  console.table(report.cases.map((c) => ({ ...c, text: c.text.replace(/\n/g, ' ⏎ ') })));
  console.table(report.speed);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const report = await runOcrBench({
    threads: Number(process.env.ORT_THREADS ?? 2),
    runs: Number(process.env.OCR_BENCH_RUNS ?? 5),
  });
  printOcrBench(report);
  if (process.env.OCR_BENCH_JSON) console.log(JSON.stringify(report));
}
