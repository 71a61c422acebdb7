import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { buildFixtureModelSet } from '../../models/fixtures/build.ts';

/**
 * `npm run bench:startup [-- --runs 5 --baseline <checkout>]`: what starting a command costs.
 * Every case runs `runs` times under GNU time (wall, user+system CPU, peak RSS; the median is
 * printed), all in this one run so they share the machine's load:
 *   - `node -e 0`, the floor;
 *   - `image-describer --help` and a one-photo describe with the tiny known-answer models, through
 *     the built bin (dist/app, `npm run build` first);
 *   - the same two through the baseline: `--baseline <dir>` runs that checkout's bin (e.g. main's,
 *     which ran the sources through tsx), else this tree's sources through tsx.
 * Targets: `--help` ≤ 3x `node -e 0`; describe ≤ 0.6x the baseline's CPU and peak RSS.
 */
interface Sample {
  readonly wallS: number;
  readonly cpuS: number;
  readonly rssMiB: number;
}

const ROOT = resolve(new URL('../..', import.meta.url).pathname);

function measure(command: readonly string[], cwd: string): Sample {
  const out = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', ...command], { cwd, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${command.join(' ')} failed (${out.status}): ${out.stderr}`);
  const last = out.stderr.trim().split('\n').at(-1) ?? '';
  const [wall, user, system, rssKiB] = last.split(' ').map(Number);
  if ([wall, user, system, rssKiB].some((n) => n === undefined || Number.isNaN(n)))
    throw new Error(`Expected GNU time's "%e %U %S %M" line but received "${last}"`);
  return {
    wallS: wall as number,
    cpuS: (user as number) + (system as number),
    rssMiB: (rssKiB as number) / 1024,
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

function medianOf(samples: Sample[]): Sample {
  return {
    wallS: median(samples.map((s) => s.wallS)),
    cpuS: median(samples.map((s) => s.cpuS)),
    rssMiB: median(samples.map((s) => s.rssMiB)),
  };
}

export async function runStartupBench(options: { runs: number; baseline?: string }) {
  if (!existsSync(join(ROOT, 'dist/app/cli.mjs'))) throw new Error('Run `npm run build` first');
  const dir = await mkdtemp(join(tmpdir(), 'startup-bench-'));
  try {
    const models = join(dir, 'models');
    await buildFixtureModelSet(models);
    const photo = join(dir, 'red.png');
    await writeFile(
      photo,
      await sharp({ create: { width: 64, height: 64, channels: 3, background: '#ff0000' } })
        .png()
        .toBuffer(),
    );
    const describe = ['describe', photo, '--models', models];
    const baselineCli = options.baseline
      ? [process.execPath, join(resolve(options.baseline), 'bin/image-describer.mjs')]
      : [process.execPath, '--import', 'tsx', join(ROOT, 'functions/cli/main.ts')];
    const builtCli = [process.execPath, join(ROOT, 'bin/image-describer.mjs')];
    const cases = {
      'node -e 0': [process.execPath, '-e', '0'],
      'built --help': [...builtCli, '--help'],
      'baseline --help': [...baselineCli, '--help'],
      'built describe': [...builtCli, ...describe],
      'baseline describe': [...baselineCli, ...describe],
    };
    const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, [] as Sample[]]));
    // Interleaved, so that a burst of load on the shared machine hits every case alike.
    for (let run = 0; run < options.runs; run++) {
      for (const [name, command] of Object.entries(cases)) {
        process.stderr.write(`run ${run + 1}/${options.runs}: ${name}\n`);
        samples[name]?.push(measure(command, ROOT));
      }
    }
    const result = Object.fromEntries(
      Object.entries(samples).map(([name, list]) => [name, medianOf(list)]),
    ) as Record<keyof typeof cases, Sample>;
    return { runs: options.runs, baseline: options.baseline ?? 'sources via tsx', result };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function printStartupBench(report: Awaited<ReturnType<typeof runStartupBench>>): void {
  const { result: r } = report;
  const row = (name: string, s: Sample) =>
    `${name.padEnd(18)} wall ${s.wallS.toFixed(2)} s  cpu ${s.cpuS.toFixed(2)} s  peak RSS ${s.rssMiB.toFixed(0)} MiB`;
  console.log(`startup bench: median of ${report.runs} runs each; baseline = ${report.baseline}`);
  for (const [name, sample] of Object.entries(r)) console.log(row(name, sample));
  const floor = r['node -e 0'];
  const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN).toFixed(2);
  const help = r['built --help'];
  const built = r['built describe'];
  const base = r['baseline describe'];
  const helpCpu = help.cpuS / floor.cpuS;
  const cpu = built.cpuS / base.cpuS;
  const rss = built.rssMiB / base.rssMiB;
  console.log(
    `--help vs node -e 0: wall ${ratio(help.wallS, floor.wallS)}x, cpu ${helpCpu.toFixed(2)}x (target <= 3x: ${helpCpu <= 3 ? 'met' : 'NOT met'})`,
  );
  console.log(
    `describe vs baseline: cpu ${cpu.toFixed(2)}x, peak RSS ${rss.toFixed(2)}x, wall ${ratio(built.wallS, base.wallS)}x (target <= 0.6x cpu and RSS: ${cpu <= 0.6 && rss <= 0.6 ? 'met' : 'NOT met'})`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '5' }, baseline: { type: 'string' } },
  });
  const report = await runStartupBench({ runs: Number(values.runs), baseline: values.baseline });
  printStartupBench(report);
}
