import type { FastStageTrigger, JobQueue, ListedObject, ObjectStore } from '../ports.ts';
import { unreadableSidecar } from './describe-uploaded-object.ts';
import type { DetailedJob } from './detailed-job.ts';
import { isInputKey, type KeyLayout, sidecarKeyFor } from './key-layout.ts';
import {
  type CurrentModels,
  type DescriptionNeed,
  needsDescription,
  parseStoredRecord,
  type StaleReason,
} from './staleness.ts';

export interface BackfillDependencies {
  readonly store: ObjectStore;
  readonly layout: KeyLayout;
  readonly models: CurrentModels;
  readonly bucket: string;
  /** Detailed jobs for images whose caption is current but whose detailed stage is not. */
  readonly queue: JobQueue<DetailedJob>;
  /** Re-runs the fast stage (which then queues the detailed job itself). */
  readonly fast: FastStageTrigger;
}

export interface BackfillItem {
  readonly object: ListedObject;
  readonly sidecarKey: string;
  readonly need: DescriptionNeed;
  /** Why the stored sidecar could not be read, when that is the need (the fast stage keeps it aside). */
  readonly unreadable?: string;
}

export interface BackfillSummary {
  readonly scanned: number;
  readonly upToDate: number;
  /** Objects sent to the fast stage, by reason. */
  readonly fast: Partial<Record<StaleReason, number>>;
  /** Objects sent to the detailed queue, by reason. */
  readonly detailed: Partial<Record<StaleReason, number>>;
  readonly queued: number;
  readonly dryRun: boolean;
}

/**
 * Every input object whose sidecar is missing or stale, with what it needs. Sidecar keys are
 * listed first, so a missing sidecar costs no GET; existing ones are read and checked with the
 * same `needsDescription` the fast stage uses for duplicate events.
 */
export async function* findStale(
  deps: Pick<BackfillDependencies, 'store' | 'layout' | 'models'>,
  onScanned?: (scanned: number) => void,
): AsyncGenerator<BackfillItem> {
  const sidecars = new Set<string>();
  for await (const item of deps.store.list(deps.layout.sidecarPrefix)) sidecars.add(item.key);
  let scanned = 0;
  for await (const object of deps.store.list(deps.layout.inputPrefix)) {
    if (!isInputKey(deps.layout, object.key)) continue;
    scanned++;
    const sidecarKey = sidecarKeyFor(deps.layout, object.key);
    const stored = sidecars.has(sidecarKey) ? await deps.store.getJson(sidecarKey) : undefined;
    const unreadable = stored && unreadableSidecar(stored);
    onScanned?.(scanned);
    if (unreadable) {
      yield {
        object,
        sidecarKey,
        need: { stage: 'fast', reason: 'unreadable-record' },
        unreadable: unreadable.reason,
      };
      continue;
    }
    const need = needsDescription(stored && parseStoredRecord(stored.value), object, deps.models);
    if (need) yield { object, sidecarKey, need };
  }
}

/**
 * The backfill: find every missing or stale sidecar and enqueue the work. Steps:
 *  1. List sidecars, then input objects (findStale).
 *  2. Caption missing or stale (no sidecar, another ETag, caption model changed, unreadable) →
 *     the fast stage, which rewrites the sidecar and queues the detailed job itself; an unreadable
 *     sidecar is reported (`onUnreadable`), and the fast stage keeps its bytes aside.
 *  3. Caption current, detailed stage pending or from an older model → a detailed job.
 *  4. Up to date, or failed for these bytes → nothing.
 * With `dryRun` nothing is sent; the summary says what would be.
 */
export async function backfill(
  deps: BackfillDependencies,
  options: {
    dryRun?: boolean;
    onProgress?: (progress: { scanned: number; queued: number }) => void;
    /** Each sidecar no description could be read from, once, before its image is sent on. */
    onUnreadable?: (item: {
      readonly key: string;
      readonly sidecarKey: string;
      readonly reason: string;
    }) => void;
  } = {},
): Promise<BackfillSummary> {
  const dryRun = options.dryRun ?? false;
  const fast: Partial<Record<StaleReason, number>> = {};
  const detailed: Partial<Record<StaleReason, number>> = {};
  let scanned = 0;
  let queued = 0;
  const report = (count: number) => {
    scanned = count;
    options.onProgress?.({ scanned, queued });
  };
  for await (const { object, sidecarKey, need, unreadable } of findStale(deps, report)) {
    if (unreadable !== undefined) options.onUnreadable?.({ key: object.key, sidecarKey, reason: unreadable });
    const tally = need.stage === 'fast' ? fast : detailed;
    tally[need.reason] = (tally[need.reason] ?? 0) + 1;
    if (!dryRun) {
      if (need.stage === 'fast') {
        await deps.fast.trigger({
          bucket: deps.bucket,
          key: object.key,
          etag: object.etag,
          size: object.size,
        });
      } else {
        await deps.queue.send({ bucket: deps.bucket, key: object.key, etag: object.etag, sidecarKey });
      }
    }
    queued++;
    options.onProgress?.({ scanned, queued });
  }
  return { scanned, upToDate: scanned - queued, fast, detailed, queued, dryRun };
}
