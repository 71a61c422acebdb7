import { performance } from 'node:perf_hooks';
import type { DescribeEngine, DescribeInput } from '../engine.ts';
import type { ModelMode } from '../models/manifest.ts';
import { newRecord } from '../record/record.ts';
import type { DescriptionRecord, ModelProvenance } from '../record/schema.ts';
import { elapsedMs } from '../timing.ts';
import type { ReferenceLine } from './references.ts';
import { type EvalMetrics, type EvalResult, scoreResults } from './score.ts';

export interface EvalOptions {
  /** fast: caption, colours, text; normal: both stages through `engine.describe()`. */
  readonly mode: ModelMode;
  /** Reads one image named by a references line (the caller decides where files live). */
  readonly load: (file: string) => Promise<DescribeInput>;
  readonly onImage?: (file: string, record: DescriptionRecord) => void;
}

export interface EvalReport {
  readonly mode: ModelMode;
  readonly images: { readonly evaluated: number; readonly described: number; readonly failed: number };
  /** Distinct models that produced the records, by field, as `id@revision`. */
  readonly models: Readonly<Record<string, readonly string[]>>;
  readonly metrics: EvalMetrics;
  /** process.resourceUsage().maxRSS: the peak of this whole process (model loading included), in MB. */
  readonly peakRssMb: number;
}

type Engine = Pick<DescribeEngine, 'describe' | 'describeFast' | 'failedRecordFor'>;

/** The engine's record for one image; a thrown error becomes a failed record of the stage that threw. */
async function describeOne(
  engine: Engine,
  input: DescribeInput,
  mode: ModelMode,
): Promise<DescriptionRecord> {
  if (mode === 'fast') {
    try {
      return await engine.describeFast(input);
    } catch (error) {
      return engine.failedRecordFor(input, 'fast', error);
    }
  }
  try {
    return await engine.describe(input);
  } catch (error) {
    // describe() does not say which stage threw: run the fast stage alone to find out (failures only).
    let fast: DescriptionRecord;
    try {
      fast = await engine.describeFast(input);
    } catch (fastError) {
      return engine.failedRecordFor(input, 'fast', fastError);
    }
    return engine.failedRecordFor(input, 'detailed', error, fast);
  }
}

function modelsUsed(records: readonly DescriptionRecord[]): Record<string, string[]> {
  const used = new Map<string, Set<string>>();
  const add = (field: string, model: ModelProvenance | undefined) => {
    if (!model) return;
    used.set(field, (used.get(field) ?? new Set()).add(`${model.id}@${model.revision}`));
  };
  for (const record of records) {
    for (const [field, model] of Object.entries(record.models)) add(field, model);
    for (const answer of Object.values(record.answers ?? {})) add('answers', answer.model);
  }
  return Object.fromEntries([...used].map(([field, ids]) => [field, [...ids].sort()]));
}

/**
 * `eval` as a use case:
 * 1. for each references line, load the image and describe it with the engine (fast stage, or both
 *    stages in normal mode), timing the call; an unreadable or rejected image becomes a failed record;
 * 2. score the records against the references (scoreResults);
 * 3. report the models that ran and the peak RSS of the process.
 */
export async function runEval(
  engine: Engine,
  references: readonly ReferenceLine[],
  options: EvalOptions,
): Promise<EvalReport> {
  const results: EvalResult[] = [];
  for (const reference of references) {
    const started = performance.now();
    let record: DescriptionRecord;
    try {
      const input = await options.load(reference.file);
      record = await describeOne(engine, input, options.mode);
    } catch (error) {
      const unread = newRecord({ kind: 'file', path: reference.file, size: 0 }, new Date());
      record = engine.failedRecordFor(
        { bytes: new Uint8Array(), source: unread.source },
        'fast',
        error,
        unread,
      );
    }
    const wallMs = elapsedMs(started);
    results.push({ reference, record, wallMs });
    options.onImage?.(reference.file, record);
  }
  const records = results.map((r) => r.record);
  const failed = records.filter(
    (r) => r.status.fast.state === 'failed' || r.status.detailed.state === 'failed',
  ).length;
  return {
    mode: options.mode,
    images: { evaluated: results.length, described: results.length - failed, failed },
    models: modelsUsed(records),
    metrics: scoreResults(results),
    // maxRSS is in kilobytes.
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}
