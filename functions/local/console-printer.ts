import { relative } from 'node:path';
import { REBUILD_REASONS } from '#emulators/sqlite-search-index.ts';
import { keptAsideSentence } from '#engine/index.ts';
import type { StackEvent } from './stack.ts';

/**
 * What `npm start` prints: one line per thing a person cares about (an upload arrived, a caption or
 * description was written, something failed), naming files by the name they were uploaded with and
 * saying where the readable copy of the description is. The handlers' own JSON logs stay at warnings.
 */
export function formatStackEvent(
  event: StackEvent,
  cwd: string = process.cwd(),
): { stream: 'stdout' | 'stderr'; line: string } | undefined {
  const out = (line: string) => ({ stream: 'stdout' as const, line });
  const shown = (path: string) => {
    const near = relative(cwd, path);
    return near.startsWith('..') ? path : near;
  };
  switch (event.type) {
    case 'uploaded':
      return out(`↑ ${event.name}`);
    case 'sidecar': {
      const r = event.record;
      const where = event.name ?? r.source.key ?? event.key;
      const copy = event.file ? `  → ${shown(event.file)}` : '';
      if (r.status.fast.state === 'failed') {
        return out(
          `✗ ${where}: ${r.errors.fast?.message ?? 'failed'} (${r.errors.fast?.code ?? '?'})${copy}`,
        );
      }
      if (r.status.detailed.state === 'done') return out(`✓ ${where}: ${r.detailedDescription ?? ''}${copy}`);
      if (r.status.detailed.state === 'failed') {
        return out(`✗ ${where} detailed: ${r.errors.detailed?.message ?? 'failed'}${copy}`);
      }
      if (r.status.fast.state === 'waiting-for-models' && r.status.detailed.state === 'pending') {
        const colours = (r.colours ?? []).map((c) => c.name).join(', ');
        return out(`… ${where}: colours ${colours}; caption waits for the models${copy}`);
      }
      if (r.status.fast.state === 'done') return out(`• ${where}: ${r.caption ?? ''}`);
      return undefined;
    }
    case 'requeued': {
      if (event.summary.fast + event.summary.detailed === 0) return undefined;
      const why = event.reason === 'start' ? 'left unfinished by the last run' : 'that waited for models';
      return out(`↻ re-queued ${event.summary.fast} fast and ${event.summary.detailed} detailed ${why}`);
    }
    case 'search-index':
      if (event.state === 'rebuilding')
        return out(
          `⟳ rebuilding the search index from the stored descriptions: ${REBUILD_REASONS[event.reason]}${event.detail ? ` (${event.detail})` : ''}`,
        );
      if (event.state === 'progress') return out(`  … ${event.indexed} descriptions indexed`);
      return out(
        `✓ search index rebuilt: ${event.summary.indexed} descriptions in ${(event.summary.ms / 1000).toFixed(1)} s${event.summary.skipped > 0 ? `, ${event.summary.skipped} skipped` : ''}`,
      );
    case 'kept-aside':
      return {
        stream: 'stderr',
        line: `! ${keptAsideSentence(event.stored, shown(event.keptAs), event.reason)}`,
      };
    case 'models-ready':
      return out('✓ models found: describing what waited for them');
    case 'error': {
      const message = event.error instanceof Error ? event.error.message : String(event.error);
      return { stream: 'stderr', line: `! ${event.where}: ${message}` };
    }
  }
}
