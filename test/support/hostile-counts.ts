import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where each hostile suite leaves its counts for the run's summary (test/global-setup.ts). */
export const HOSTILE_COUNTS_DIR = fileURLToPath(new URL('../../test-output/hostile-counts', import.meta.url));

export interface ChannelCount {
  kinds: number;
  passed: number;
}

export function formatCounts(title: string, counts: ReadonlyMap<string, ChannelCount>): string {
  const values = [...counts.values()];
  const kinds = values.reduce((sum, count) => sum + count.kinds, 0);
  const passed = values.reduce((sum, count) => sum + count.passed, 0);
  const lines = [...counts].map(
    ([channel, count]) => `  ${channel}: ${count.kinds} kinds, ${count.passed} passed`,
  );
  return `${title}: ${kinds} kinds of bad input, ${passed} passed\n${lines.join('\n')}`;
}

/** Every suite's counts of this run, added up by channel; undefined when no hostile suite ran. */
export async function hostileSummary(minimum: number): Promise<string | undefined> {
  const files = await readdir(HOSTILE_COUNTS_DIR).catch(() => [] as string[]);
  if (files.length === 0) return undefined;
  const counts = new Map<string, ChannelCount>();
  const suites: string[] = [];
  for (const file of files.sort()) {
    const { suite, channels } = JSON.parse(await readFile(join(HOSTILE_COUNTS_DIR, file), 'utf8')) as {
      suite: string;
      channels: Record<string, ChannelCount>;
    };
    suites.push(suite);
    for (const [channel, count] of Object.entries(channels)) {
      const sum = counts.get(channel) ?? { kinds: 0, passed: 0 };
      counts.set(channel, { kinds: sum.kinds + count.kinds, passed: sum.passed + count.passed });
    }
  }
  const kinds = [...counts.values()].reduce((sum, count) => sum + count.kinds, 0);
  const verdict = kinds >= minimum ? 'met' : 'NOT met';
  return `${formatCounts(`hostile inputs, all suites that ran (${suites.join('; ')})`, counts)}\n  target >= ${minimum} distinct kinds: ${verdict}`;
}
