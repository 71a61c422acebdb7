import { parseStoredRecord } from '#engine/pipeline/staleness.ts';
import type { ObjectStore } from '#engine/ports.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';

/**
 * Polls `key` in `store` until its sidecar satisfies `done`; past the timeout it fails naming what
 * it last saw (`show` picks the fields worth printing), so a stuck stage is visible in the error.
 */
export async function sidecarWhen(
  store: ObjectStore,
  key: string,
  done: (record: DescriptionRecord) => boolean,
  options: { timeoutMs?: number; show?: (record: DescriptionRecord | undefined) => unknown } = {},
): Promise<DescriptionRecord> {
  const end = Date.now() + (options.timeoutMs ?? 30_000);
  const show = options.show ?? ((record) => record?.status);
  for (;;) {
    const record = parseStoredRecord((await store.getJson(key).catch(() => undefined))?.value);
    if (record && done(record)) return record;
    if (Date.now() > end)
      throw new Error(`Expected ${key} to reach the state in time; last: ${JSON.stringify(show(record))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
