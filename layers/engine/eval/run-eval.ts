import { performance } from 'node:perf_hooks';
import type { DescribeEngine, DescribeInput } from '../engine.ts';
import type { ModelMode } from '../models/manifest.ts';
import type { ModelTokenUsage } from '../models/registry.ts';
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
  /** Tokens the remote models used so far, by model name (the registry's `tokenUsage`). */
  readonly tokenUsage?: () => ReadonlyMap<string, ModelTokenUsage>;
}

/** Tokens one remote model used over the run: what its price is computed from. */
export interface EvalTokens extends ModelTokenUsage {
  /** Means per evaluated image. */
  readonly perImage: { readonly inputTokens: number; readonly outputTokens: number };
}

export interface EvalReport {
  readonly mode: ModelMode;
  readonly images: { readonly evaluated: number; readonly described: number; readonly failed: number };
  /** Distinct models that produced the records, by field, as `id@revision`. */
  readonly models: Readonly<Record<string, readonly string[]>>;
  readonly metrics: EvalMetrics;
  /** process.resourceUsage().maxRSS: the peak of this whole process (model loading included), in MB. */
  readonly peakRssMb: number;
  /** Tokens used by remote models during the run, by model name; absent when none ran. */
  readonly tokens?: Readonly<Record<string, EvalTokens>>;
}

/** What each remote model used between two snapshots of the registry's counters. */
function tokensUsed(
  before: ReadonlyMap<string, ModelTokenUsage>,
  after: ReadonlyMap<string, ModelTokenUsage>,
  images: number,
): Record<string, EvalTokens> | undefined {
  const used: Record<string, EvalTokens> = {};
  const per = (n: number) => (images > 0 ? Math.round((n / images) * 10) / 10 : 0);
  for (const [model, total] of after) {
    const start = before.get(model) ?? { inputTokens: 0, outputTokens: 0, answers: 0 };
    const inputTokens = total.inputTokens - start.inputTokens;
    const outputTokens = total.outputTokens - start.outputTokens;
    const answers = total.answers - start.answers;
    if (answers === 0) continue;
    used[model] = {
      answers,
      inputTokens,
      outputTokens,
      perImage: { inputTokens: per(inputTokens), outputTokens: per(outputTokens) },
    };
  }
  return Object.keys(used).length > 0 ? used : undefined;
}

type Engine = Pick<DescribeEngine, 'describe' | 'failedRecordFor'>;

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
  const tokensBefore = new Map(options.tokenUsage?.() ?? []);
  for (const reference of references) {
    const started = performance.now();
    let record: DescriptionRecord;
    try {
      const input = await options.load(reference.file);
      record = await engine.describe(input, undefined, { mode: options.mode, failures: 'record' });
    } catch (error) {
      const unread = { bytes: new Uint8Array(), source: { kind: 'file' as const, path: reference.file } };
      record = engine.failedRecordFor(unread, 'fast', error);
    }
    const wallMs = elapsedMs(started);
    results.push({ reference, record, wallMs });
    options.onImage?.(reference.file, record);
  }
  const records = results.map((r) => r.record);
  const failed = records.filter(
    (r) => r.status.fast.state === 'failed' || r.status.detailed.state === 'failed',
  ).length;
  const tokens = options.tokenUsage && tokensUsed(tokensBefore, options.tokenUsage(), results.length);
  return {
    mode: options.mode,
    images: { evaluated: results.length, described: results.length - failed, failed },
    models: modelsUsed(records),
    metrics: scoreResults(results),
    // maxRSS is in kilobytes.
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    ...(tokens ? { tokens } : {}),
  };
}
