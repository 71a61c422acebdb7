import { type RebuildReason, SqliteSearchIndex } from '#emulators/sqlite-search-index.ts';
import type { ObjectStore } from '#engine/index.ts';
import type { KeyLayout } from '#engine/pipeline/index.ts';
import { type RebuildSummary, SidecarIndexer } from '#engine/search/index.ts';

/** What the console shows of the search file at start: nothing, unless it must be rebuilt. */
export type SearchIndexEvent =
  /** The file was missing or unusable (`detail` says what was wrong): rebuilt from the sidecars. */
  | { type: 'search-index'; state: 'rebuilding'; reason: RebuildReason; detail?: string; file: string }
  | { type: 'search-index'; state: 'progress'; indexed: number }
  | { type: 'search-index'; state: 'rebuilt'; summary: RebuildSummary };

export interface LocalSearchOptions {
  /** `<data dir>/search-index/index.sqlite`. */
  readonly file: string;
  readonly store: Pick<ObjectStore, 'head' | 'getJson' | 'list'>;
  readonly layout: KeyLayout;
  readonly onEvent: (event: SearchIndexEvent) => void;
  /** A sidecar that is not a record: skipped and reported. */
  readonly onSkipped: (sidecarKey: string, error: unknown) => void;
  /** Packing the vector lists into memory failed: searches read the lists they need themselves. */
  readonly onWarmUpFailed: (error: unknown) => void;
}

/**
 * The local stack's search file (keywords and image vectors) and the indexer that keeps it in step
 * with the sidecar writes and deletes. A current file is opened as it is: no sidecar is read, the
 * vectors included. Only a missing or unusable file is refilled from the sidecars, before the
 * caller's web server listens, so the first search sees what earlier runs described.
 */
export async function openLocalSearch(
  options: LocalSearchOptions,
): Promise<{ index: SqliteSearchIndex; indexer: SidecarIndexer }> {
  const opened = SqliteSearchIndex.open(options.file);
  const { index } = opened;
  const indexer = new SidecarIndexer({
    store: options.store,
    layout: options.layout,
    index,
    vectors: index.vectors,
    onSkipped: options.onSkipped,
  });
  if (opened.rebuild) {
    const { reason, detail } = opened.rebuild;
    options.onEvent({
      type: 'search-index',
      state: 'rebuilding',
      reason,
      ...(detail ? { detail } : {}),
      file: options.file,
    });
    try {
      const summary = await indexer.rebuild((indexed) =>
        options.onEvent({ type: 'search-index', state: 'progress', indexed }),
      );
      index.markComplete();
      options.onEvent({ type: 'search-index', state: 'rebuilt', summary });
    } catch (error) {
      index.close();
      throw error;
    }
  }
  // Between requests, so that searches scan vectors in memory instead of reading rows.
  index.vectors.warm().catch(options.onWarmUpFailed);
  return { index, indexer };
}
