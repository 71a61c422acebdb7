import type { Manifest } from '../models/manifest.ts';
import { provenanceOf, sameProvenance } from '../models/provenance.ts';
import { isAnswerCurrent } from '../questions/answer.ts';
import { migrateRecord } from '../record/record.ts';
import type { DescriptionRecord, ModelProvenance } from '../record/schema.ts';
import { descriptionRecordSchema } from '../record/schema.ts';

/** The models that would describe an image now (from the current manifest). */
export interface CurrentModels {
  readonly caption: ModelProvenance;
  /** Absent when the manifest configures no objects task. */
  readonly objects?: ModelProvenance;
  readonly detailed: ModelProvenance;
  /** One key per configured question (questions/answer.ts); absent when none are asked. */
  readonly questions?: Readonly<Record<string, ModelProvenance>>;
  /** The configured category list's key; absent when there is none. */
  readonly categories?: ModelProvenance;
  /** The embedding task's key; absent when the manifest configures none. */
  readonly embedding?: ModelProvenance;
}

/** What a manifest's caption, objects and detailed tasks would write into `models` (nothing is loaded). */
export function currentModelsOf(manifest: Manifest): CurrentModels {
  const { models, tasks } = manifest;
  const of = (task: NonNullable<Manifest['tasks']['objects']>) => {
    const model = models[task.model];
    // The manifest schema checks every task's model exists; this guards a hand-built object.
    if (!model) throw new Error(`Manifest task names an unknown model "${task.model}"`);
    return provenanceOf(model, task);
  };
  return {
    caption: of(tasks.caption),
    ...(tasks.objects ? { objects: of(tasks.objects) } : {}),
    detailed: of(tasks.detailed),
    ...(tasks.embedding ? { embedding: of(tasks.embedding) } : {}),
  };
}

export type StaleReason =
  | 'missing'
  | 'unreadable-record'
  | 'object-changed'
  | 'caption-model-changed'
  | 'objects-model-changed'
  | 'embedding-stale'
  | 'fast-incomplete'
  | 'detailed-model-changed'
  | 'answers-stale'
  | 'categories-changed'
  | 'detailed-incomplete';

/**
 * What an image needs: `fast` re-runs the whole description (the detailed stage follows it),
 * `detailed` only completes or refreshes the detailed description of an up-to-date fast record.
 */
export interface DescriptionNeed {
  readonly stage: 'fast' | 'detailed';
  readonly reason: StaleReason;
}

/** A stored sidecar parsed leniently (v1 migrated): junk counts as unreadable (re-describe). */
export function parseStoredRecord(value: unknown): DescriptionRecord | undefined {
  const parsed = descriptionRecordSchema.safeParse(migrateRecord(value));
  return parsed.success ? parsed.data : undefined;
}

/** Which bytes an object holds now: its S3 ETag, or (a local file) the sha256 of its bytes. */
export type ObjectIdentity = { readonly etag: string } | { readonly sha256: string };

/**
 * The one staleness check, shared by the fast stage (duplicate events), the backfill command and
 * the local stack's start-up scan. Undefined = the sidecar is up to date for this object and these
 * models. A failed stage is final for these bytes (the error is permanent by construction: only
 * permanent errors are written to sidecars), so it is not retried here.
 */
export function needsDescription(
  record: DescriptionRecord | undefined,
  object: ObjectIdentity,
  current: CurrentModels,
): DescriptionNeed | undefined {
  if (!record) return { stage: 'fast', reason: 'missing' };
  const same = 'etag' in object ? record.source.etag === object.etag : record.source.sha256 === object.sha256;
  if (!same) return { stage: 'fast', reason: 'object-changed' };
  const { fast, detailed } = record.status;
  if (fast.state === 'failed') return undefined;
  if (fast.state !== 'done') return { stage: 'fast', reason: 'fast-incomplete' };
  if (!sameProvenance(record.models.caption, current.caption)) {
    return { stage: 'fast', reason: 'caption-model-changed' };
  }
  // Objects come from the fast stage's shared pass: a new objects task re-runs that stage. When the
  // manifest drops the task, stored objects are left alone rather than re-describing every image.
  if (current.objects && !sameProvenance(record.models.objects, current.objects)) {
    return { stage: 'fast', reason: 'objects-model-changed' };
  }
  // No vector yet (a record from before embeddings) or one of another model: the fast stage runs
  // again, and keeps its current caption and objects rather than running their models (stage-tasks.ts).
  if (current.embedding && !sameProvenance(record.models.embedding, current.embedding)) {
    return { stage: 'fast', reason: 'embedding-stale' };
  }
  if (detailed.state === 'failed') return undefined;
  if (detailed.state !== 'done') return { stage: 'detailed', reason: 'detailed-incomplete' };
  if (!sameProvenance(record.models.detailed, current.detailed)) {
    return { stage: 'detailed', reason: 'detailed-model-changed' };
  }
  // A new or edited question, or one still waiting for its model: the detailed stage asks only those.
  for (const [id, key] of Object.entries(current.questions ?? {})) {
    if (!isAnswerCurrent(record.answers?.[id], key, record.stale?.[`answers.${id}`]))
      return { stage: 'detailed', reason: 'answers-stale' };
  }
  // A changed list, or prompts that waited for the embedding model: re-scored without the image.
  if (
    current.categories &&
    (!sameProvenance(record.models.categories, current.categories) || record.stale?.categories)
  ) {
    return { stage: 'detailed', reason: 'categories-changed' };
  }
  return undefined;
}
