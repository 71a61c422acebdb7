import { performance } from 'node:perf_hooks';
import { PromptVectorCache } from './categories/prompt-vectors.ts';
import { ModelNotFoundError } from './errors.ts';
import { intakeImage } from './image/intake.ts';
import type { IntakeResult } from './image/types.ts';
import type { ModelMode } from './models/manifest.ts';
import { sameProvenance } from './models/provenance.ts';
import type { ImageEncodings, ModelRegistry } from './models/registry.ts';
import { runDetailedTask, runFastTasks, type StageTasksResult } from './models/stage-tasks.ts';
import type { TextReader } from './ocr/text-reader.ts';
import { dominantColours } from './palette/palette.ts';
import { answerStage, type CategoryScoring, categoriesKey, categoriseAndCheck } from './questions/stage.ts';
import type { ModelKey } from './record/fields.ts';
import {
  carryDetailedResults,
  failedRun,
  markFresh,
  previousForSameBytes,
  replacementsFrom,
} from './record/merge.ts';
import { newRecord, sha256Hex, validateRecord, withStageState } from './record/record.ts';
import type { DescriptionRecord, ModelProvenance, Source } from './record/schema.ts';
import type { EngineSettings } from './settings.ts';
import { elapsedMs } from './timing.ts';

/** Image bytes plus where they came from; size and hash are derived from the bytes. */
export interface DescribeInput {
  readonly bytes: Uint8Array;
  readonly source: Omit<Source, 'size' | 'sha256'>;
}

export interface EngineDependencies {
  readonly settings: EngineSettings;
  readonly models: ModelRegistry;
  /** Absent when OCR is off. */
  readonly textReader?: TextReader;
  readonly now?: () => Date;
}

/** Per-call options of a stage. */
export interface StageOptions {
  /**
   * The image's model encodings, to share one vision pass between the stages of one call (the CLI
   * runs both on the same bytes). Never reuse a map for other bytes.
   */
  readonly encodings?: ImageEncodings;
  /**
   * Fast stage: keep the previous record's results whose model and task are current instead of
   * running them again (the re-run that only adds a missing embedding: no new caption).
   */
  readonly keepCurrent?: boolean;
}

/**
 * Florence-2 takes 768×768 and SmolVLM 512 px: a stage that reads no text needs no more pixels, and
 * decoding fewer is what JPEG shrink-on-load makes cheap (a 12 MP photo decodes at 1/4 scale).
 */
export const CAPTION_WORKING_SIZE = 768;

/**
 * The one engine every entry point runs: image bytes in, description record out.
 *
 * - describeFast: intake → colours → caption and objects (one vision pass) → text (when OCR runs in the fast stage)
 *   → categories and consistency checks. The detailed stage is left pending.
 * - describeDetailed: intake → text (when OCR runs there) → detailed description
 *   → answers to the configured questions → categories and checks over everything, merged into the
 *   record the fast stage wrote.
 * - describe: both, for the CLI, sharing the vision pass.
 *
 * Input errors (ImageRejectedError…) are thrown; the outermost layer turns them into a failed
 * record with `failedRecordFor` so that a batch goes on.
 */
export class DescribeEngine {
  private readonly now: () => Date;
  /** The category prompts' text vectors, embedded once per process. */
  private readonly promptVectors: PromptVectorCache;

  constructor(private readonly deps: EngineDependencies) {
    this.now = deps.now ?? (() => new Date());
    this.promptVectors = new PromptVectorCache(deps.models);
  }

  get settings(): EngineSettings {
    return this.deps.settings;
  }

  get models(): ModelRegistry {
    return this.deps.models;
  }

  /** The record to start from for these bytes: both stages pending, source filled in. */
  startRecord(input: DescribeInput): DescriptionRecord {
    return newRecord(
      { ...input.source, size: input.bytes.length, sha256: sha256Hex(input.bytes) },
      this.now(),
    );
  }

  /**
   * `previous`: the sidecar written before for this object, if any. When it describes the same
   * bytes, its results are kept wherever this run cannot produce them (see record/merge.ts).
   */
  async describeFast(
    input: DescribeInput,
    previous?: DescriptionRecord,
    options: StageOptions = {},
  ): Promise<DescriptionRecord> {
    const started = performance.now();
    let record = this.startRecord(input);
    const earlier = previousForSameBytes(previous, record.source);
    record = carryDetailedResults(record, earlier);
    if (earlier?.createdAt) record = { ...record, createdAt: earlier.createdAt };

    const decoded = await this.intake(input.bytes, 'fast');
    record = { ...record, image: decoded.facts };

    const paletteStart = performance.now();
    record = { ...record, colours: dominantColours(decoded.image) };
    const paletteMs = elapsedMs(paletteStart);

    // Caption and objects from one vision pass (the encodings map), shared with the detailed stage in describe().
    const captionStart = performance.now();
    let fastState: 'done' | 'waiting-for-models' = 'done';
    const tasks = await runFastTasks(this.deps.models, decoded.image, record, {
      encodings: options.encodings ?? new Map(),
      previous: earlier,
      now: this.now(),
      ...(options.keepCurrent ? { keepCurrent: true } : {}),
    });
    record = tasks.record;
    const encodeMs = tasks.encodeMs;
    if (tasks.waiting) {
      // Colours, facts and text are still worth having; caption and objects follow once models exist.
      fastState = 'waiting-for-models';
      const { code, message } = tasks.waiting;
      record = { ...record, errors: { ...record.errors, fast: { code, message } } };
    }
    const captionMs = elapsedMs(captionStart);

    let ocrMs: number | undefined;
    if (this.deps.settings.ocrStage === 'fast') {
      const kept = options.keepCurrent ? earlier : undefined;
      ({ record, ocrMs } = await this.readText(record, decoded, kept));
    }

    const judged = await this.judge(record);
    const { categoriesMs, checksMs } = judged;
    record = judged.record;

    record = withStageState(record, 'fast', fastState, this.now());
    record = {
      ...record,
      timings: {
        ...record.timings,
        fast: {
          decodeMs: decoded.decodeMs,
          paletteMs,
          captionMs,
          encodeMs,
          ocrMs,
          categoriesMs,
          checksMs,
          totalMs: elapsedMs(started),
        },
      },
    };
    return validateRecord(record);
  }

  async describeDetailed(
    input: DescribeInput,
    previous: DescriptionRecord,
    options: StageOptions = {},
  ): Promise<DescriptionRecord> {
    const started = performance.now();
    const decoded = await this.intake(input.bytes, 'detailed');
    let record: DescriptionRecord = { ...previous, image: previous.image ?? decoded.facts };

    // Text first: it needs no downloaded model, so it is worth having even while the model is missing.
    let ocrMs: number | undefined;
    if (this.deps.settings.ocrStage === 'detailed')
      ({ record, ocrMs } = await this.readText(record, decoded));

    const modelStart = performance.now();
    let detailedState: 'done' | 'waiting-for-models' = 'done';
    const { detailed: _previousError, ...otherErrors } = record.errors;
    record = { ...record, errors: otherErrors };
    // A current description is kept as it is: a new question or category list needs no new one.
    const tasks: Omit<StageTasksResult, 'encodeMs'> = this.hasCurrentDescription(record)
      ? { record }
      : await runDetailedTask(this.deps.models, decoded.image, record, {
          encodings: options.encodings ?? new Map(),
          now: this.now(),
        });
    record = tasks.record;
    if (tasks.waiting) {
      detailedState = 'waiting-for-models';
      const { code, message } = tasks.waiting;
      record = { ...record, errors: { ...record.errors, detailed: { code, message } } };
    }
    const modelMs = elapsedMs(modelStart);

    // Questions wait for their own model without holding up the stage (each answer says why).
    const answered = await answerStage(
      record,
      decoded.image,
      this.deps.models,
      this.deps.settings.questions,
      this.now(),
    );
    const { answersMs } = answered;
    const judged = categoriseAndCheck(
      answered.record,
      'detailed',
      this.deps.settings.questions,
      await this.categoryScoring(),
    );
    const { categoriesMs, checksMs } = judged;
    record = judged.record;

    record = withStageState(record, 'detailed', detailedState, this.now());
    record = {
      ...record,
      timings: {
        ...record.timings,
        detailed: {
          decodeMs: decoded.decodeMs,
          modelMs,
          ocrMs,
          answersMs,
          categoriesMs,
          checksMs,
          totalMs: elapsedMs(started),
        },
      },
    };
    return validateRecord(record);
  }

  /**
   * Both stages, one after the other (`mode` normal, the default), or the fast stage alone. With
   * `failures: 'record'`, an error in a stage becomes that stage's failure record instead of a
   * throw (kept results from `previous`, or from the fast stage when the detailed one fails):
   * what a caller that writes whatever comes out and retries nothing does (the CLI, eval).
   */
  async describe(
    input: DescribeInput,
    previous?: DescriptionRecord,
    options: { mode?: ModelMode; failures?: 'throw' | 'record'; keepCurrent?: boolean } = {},
  ): Promise<DescriptionRecord> {
    const recordFailure = (stage: 'fast' | 'detailed', error: unknown, base?: DescriptionRecord) => {
      if (options.failures !== 'record') throw error;
      return this.failedRecordFor(input, stage, error, base);
    };
    // One encodings map for both stages: Florence-2 encodes the image once for all three tasks.
    const encodings: ImageEncodings = new Map();
    let fast: DescriptionRecord;
    try {
      fast = await this.describeFast(input, previous, { encodings, keepCurrent: options.keepCurrent });
    } catch (error) {
      return recordFailure('fast', error, previous);
    }
    // A finished detailed stage kept with a current caption has nothing new to describe.
    if (options.mode === 'fast' || (options.keepCurrent && fast.status.detailed.state === 'done'))
      return fast;
    try {
      return await this.describeDetailed(input, fast, { encodings });
    } catch (error) {
      return recordFailure('detailed', error, fast);
    }
  }

  /**
   * The failure sidecar for an error thrown by a stage; only the outermost layer calls this. A
   * `previous` record of the same bytes keeps its results (marked stale with the error's code);
   * one of other bytes is not used for a fast failure (its results describe another image).
   */
  failedRecordFor(
    input: DescribeInput,
    stage: 'fast' | 'detailed',
    error: unknown,
    previous?: DescriptionRecord,
  ) {
    const fresh = this.startRecord(input);
    const base = stage === 'detailed' ? previous : previousForSameBytes(previous, fresh.source);
    return this.failedFrom(fresh, base, stage, error);
  }

  /**
   * The failure sidecar for an object refused before its bytes were read (over the size limit).
   * `sameVersion` is the sidecar of this very object version (same ETag): its results are kept.
   */
  failedUnreadRecordFor(source: Source, error: unknown, sameVersion?: DescriptionRecord) {
    return this.failedFrom(newRecord(source, this.now()), sameVersion, 'fast', error);
  }

  private failedFrom(
    fresh: DescriptionRecord,
    base: DescriptionRecord | undefined,
    stage: 'fast' | 'detailed',
    error: unknown,
  ): DescriptionRecord {
    const replacements = replacementsFrom((model) => this.provenanceOf(model));
    return validateRecord(failedRun({ fresh, base, stage, error, now: this.now(), replacements }));
  }

  /** What would write a `models` key now: the OCR reader or the task of that name, when configured. */
  private provenanceOf(model: ModelKey): ModelProvenance | undefined {
    if (model === 'ocr') return this.deps.textReader?.provenance;
    if (model === 'categories') return undefined;
    return this.deps.models.taskSpec(model) ? this.deps.models.provenance(model) : undefined;
  }

  /**
   * A fast record about to replace a sidecar that another writer changed since it was read (the
   * detailed worker finishing, say): that sidecar's detailed results are newer than the ones this
   * record carried, so they are taken over and the categories and checks judged again.
   */
  async withNewerDetailedResults(
    record: DescriptionRecord,
    newer: DescriptionRecord | undefined,
  ): Promise<DescriptionRecord> {
    const sameBytes = previousForSameBytes(newer, record.source);
    if (!sameBytes || record.status.fast.state === 'failed') return record;
    return this.judgedAgain(carryDetailedResults(record, sameBytes));
  }

  /**
   * Categories and checks judged again over a stored or merged record: a changed category list,
   * or two writers' results. No image model runs (category prompts need only the text tower).
   */
  async judgedAgain(record: DescriptionRecord): Promise<DescriptionRecord> {
    return validateRecord((await this.judge(record)).record);
  }

  /**
   * Categories and checks for a record outside the detailed stage: a finished detailed stage it
   * carries is not re-run, so its text is checked too (or its checks would go).
   */
  private async judge(record: DescriptionRecord) {
    const guardStage = record.status.detailed.state === 'done' ? 'detailed' : 'fast';
    return categoriseAndCheck(record, guardStage, this.deps.settings.questions, await this.categoryScoring());
  }

  /** The configured categories' key and prompt vectors; waiting while the embedding model is missing. */
  private async categoryScoring(): Promise<CategoryScoring | undefined> {
    const categories = this.deps.settings.questions?.categories ?? [];
    if (categories.length === 0) return undefined;
    const key = categoriesKey(this.deps.models, categories);
    const prompts = await this.promptVectors.forCategories(categories);
    if (prompts instanceof ModelNotFoundError) return { key, waiting: { now: this.now() } };
    return { key, ...(prompts ? { prompts } : {}) };
  }

  /** The record's detailed description is what the detailed task would write now (and not stale). */
  private hasCurrentDescription(record: DescriptionRecord): boolean {
    return (
      record.detailedDescription !== undefined &&
      record.stale?.detailedDescription === undefined &&
      sameProvenance(record.models.detailed, this.deps.models.provenance('detailed'))
    );
  }

  /** The working size of a stage: full size where OCR reads text, the caption models' size elsewhere. */
  workingSizeFor(stage: 'fast' | 'detailed'): number {
    const { workingSize, ocrStage } = this.deps.settings;
    return ocrStage === stage ? workingSize : Math.min(workingSize, CAPTION_WORKING_SIZE);
  }

  private async intake(
    bytes: Uint8Array,
    stage: 'fast' | 'detailed',
  ): Promise<IntakeResult & { decodeMs: number }> {
    const start = performance.now();
    const { maxInputBytes, maxInputPixels } = this.deps.settings;
    const workingSize = this.workingSizeFor(stage);
    const result = await intakeImage(bytes, { maxInputBytes, maxInputPixels, workingSize });
    return { ...result, decodeMs: elapsedMs(start) };
  }

  /** OCR of the image; `keep`: a record whose text, read by this reader and not stale, is kept instead. */
  private async readText(record: DescriptionRecord, decoded: IntakeResult, keep?: DescriptionRecord) {
    const reader = this.deps.textReader;
    if (!reader) return { record, ocrMs: undefined };
    if (keep?.text && !keep.stale?.text && sameProvenance(keep.models.ocr, reader.provenance)) {
      return { record: { ...record, text: keep.text, models: { ...record.models, ocr: keep.models.ocr } } };
    }
    const start = performance.now();
    const text = await reader.read(decoded.image);
    return {
      record: markFresh({ ...record, text, models: { ...record.models, ocr: reader.provenance } }, ['text']),
      ocrMs: elapsedMs(start),
    };
  }
}
