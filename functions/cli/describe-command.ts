import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { contentTypeForFileName } from '#engine/image/index.ts';
import {
  type DescribeEngine,
  type DescribeInput,
  keptAsideSentence,
  parseStoredJson,
} from '#engine/index.ts';
import type { ModelMode } from '#engine/models/index.ts';
import {
  type CurrentModels,
  currentModelsOf,
  KEPT_ASIDE_SUFFIX,
  needsDescription,
  parseStoredRecord,
  type StaleReason,
} from '#engine/pipeline/index.ts';
import { currentQuestionKeys } from '#engine/questions/index.ts';
import { type DescriptionRecord, fileSidecarPath, sha256Hex } from '#engine/record/index.ts';
import { readInputFile, unreadableReason } from '../read-input-file.ts';
import { firstError, formatRecord } from './format.ts';
import { collectTargets, type DescribeTarget } from './targets.ts';

export interface DescribeCommandOptions {
  readonly paths: readonly string[];
  readonly mode: ModelMode;
  readonly json: boolean;
  readonly outDir?: string;
  readonly recursive: boolean;
  /** Describe again even when the sidecar is up to date for these bytes and models. */
  readonly force?: boolean;
}

export interface CommandOutput {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface DescribeSummary {
  readonly described: number;
  readonly failed: ReadonlyArray<{ path: string; code: string; message: string }>;
  readonly skippedFiles: number;
  /** Images whose sidecar was already up to date (not described again). */
  readonly unchanged: number;
}

/** The file's bytes: special files refused unopened, the size checked before reading (read-input-file.ts). */
async function readSource(path: string, maxBytes: number): Promise<DescribeInput> {
  const bytes = await readInputFile(path, maxBytes);
  return { bytes, source: { kind: 'file', path, contentType: contentTypeForFileName(path) } };
}

/** The image's record: an unreadable file, or a stage's error, becomes a failed record. */
async function describeOne(
  engine: DescribeEngine,
  target: DescribeTarget,
  mode: ModelMode,
  previous: DescriptionRecord | undefined,
  need?: StaleReason,
): Promise<DescriptionRecord> {
  // Only the category list changed: the stored record is re-scored, no image model runs. If that
  // fails (the text tower cannot load), the full describe below records the failure by stage, so
  // the rest of the folder goes on.
  if (previous && need === 'categories-changed') {
    try {
      return await engine.judgedAgain(previous);
    } catch {}
  }
  let input: DescribeInput;
  try {
    input = await readSource(target.path, engine.settings.maxInputBytes);
  } catch (error) {
    return engine.failedRecordFor(
      { bytes: new Uint8Array(), source: { kind: 'file', path: target.path } },
      'fast',
      error,
    );
  }
  // `previous` is the sidecar already at the output path: its results survive a run that cannot
  // redo them (models missing, a failed run), marked stale. Only the vector missing or stale: the
  // current caption, objects and text are kept.
  const keepCurrent = need === 'embedding-stale';
  return engine.describe(input, previous, {
    mode,
    failures: 'record',
    ...(keepCurrent ? { keepCurrent } : {}),
  });
}

/**
 * The sidecar a previous run wrote at `path`, if it is one (v1 or v2). A file there that is not a
 * description (cut short, edited by hand) is renamed to `<path>.corrupt` for its owner, said once
 * on stderr, and counts as absent; a special file there is left alone (never opened).
 */
async function readExistingSidecar(
  path: string,
  output: CommandOutput,
): Promise<DescriptionRecord | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readInputFile(path, MAX_SIDECAR_BYTES);
  } catch {
    return undefined;
  }
  const stored = parseStoredJson({ bytes, etag: '' });
  const record = parseStoredRecord(stored.value);
  if (record) return record;
  const keptAs = `${path}${KEPT_ASIDE_SUFFIX}`;
  try {
    await rename(path, keptAs);
    const reason = stored.unreadable?.reason ?? 'it is JSON but not a description record';
    output.stderr.write(`! ${keptAsideSentence(path, keptAs, reason)}\n`);
  } catch {
    // Cannot move it: it is overwritten like any stale sidecar.
  }
  return undefined;
}

/** A sidecar is a few KB; a file at a sidecar's name beyond this is not one of ours. */
const MAX_SIDECAR_BYTES = 16 * 1024 * 1024;

function sidecarPath(target: DescribeTarget, outDir: string | undefined): string {
  return fileSidecarPath(outDir ? join(outDir, target.relativePath) : target.path);
}

/** Temporary file + rename: a reader (or a kill) never sees half a sidecar. */
async function writeSidecar(path: string, record: DescriptionRecord): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = join(dirname(path), `.${randomUUID()}.tmp`);
  try {
    await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Progress on stderr: a bar on a terminal, one `[n/total] file` line per file otherwise. */
export function progressReporter(output: CommandOutput, total: number, verb = 'describing') {
  if (output.stderr.isTTY && total > 1) {
    const bar = new SingleBar({
      stream: output.stderr as NodeJS.WriteStream,
      format: `${verb} [{bar}] {value}/{total} | {eta_formatted} left | {file}`,
      hideCursor: true,
    });
    bar.start(total, 0, { file: '' });
    return { step: (file: string) => bar.increment(1, { file }), stop: () => bar.stop() };
  }
  let done = 0;
  return {
    step: (file: string) => {
      done += 1;
      if (total > 1) output.stderr.write(`[${done}/${total}] ${file}\n`);
    },
    stop: () => {},
  };
}

/**
 * `image-describer describe <paths...>`:
 * 1. expand paths (folders → their images; missing paths and empty folders are reported, not fatal);
 * 2. describe each file (fast stage; normal mode adds the detailed stage), bad files become failed records;
 * 3. print the record (one file named directly) or write `<file>.description.json` sidecars
 *    (files found in folders, or any file when --out is given), with progress on stderr;
 * 4. end with a summary; the caller exits non-zero when anything failed.
 */
export async function runDescribeCommand(
  engine: DescribeEngine,
  options: DescribeCommandOptions,
  output: CommandOutput,
): Promise<DescribeSummary> {
  const { targets, problems, skippedFiles, skippedFolders } = await collectTargets(
    options.paths,
    options.recursive,
  );
  // An empty folder is said once, above; it is not a failure.
  const failed: Array<{ path: string; code: string; message: string }> = problems
    .filter((problem) => problem.code !== 'NO_IMAGES')
    .map(({ path, code, message }) => ({ path, code, message }));
  for (const problem of problems)
    output.stderr.write(`${problem.code === 'NO_IMAGES' ? '' : '✗ '}${problem.message}\n`);
  if (skippedFolders.length > 0) output.stderr.write(`${skippedFoldersLine(skippedFolders)}\n`);

  const batch = targets.length > 1 || targets.some((t) => t.fromFolder) || options.outDir !== undefined;
  const current = currentModels(engine);
  const progress = progressReporter(output, targets.length);
  let described = 0;
  let unchanged = 0;
  for (const target of targets) {
    const path = batch ? sidecarPath(target, options.outDir) : undefined;
    const previous = path ? await readExistingSidecar(path, output) : undefined;
    const need =
      !options.force && previous
        ? await whatIsNeeded(target, previous, options.mode, current, engine.settings.maxInputBytes)
        : undefined;
    if (need === 'up-to-date') {
      unchanged += 1;
      if (options.json) output.stdout.write(`${JSON.stringify(previous)}\n`);
      progress.step(target.relativePath);
      continue;
    }
    const record = await describeOne(engine, target, options.mode, previous, need);
    let error: { code: string; message: string } | undefined = firstError(record);

    // A file that could not be read says nothing about the image: its old sidecar stays as it was.
    const unreadable = record.errors.fast?.code === 'UNREADABLE_SOURCE' && previous !== undefined;
    if (path && !unreadable) {
      try {
        await writeSidecar(path, record);
      } catch (writeError) {
        // One sidecar that cannot be written (read-only folder, full disk) stops nothing else.
        error ??= {
          code: 'SIDECAR_NOT_WRITTEN',
          message: `The description could not be written to ${path}: ${unreadableReason(path, writeError)}.`,
        };
      }
      if (options.json) output.stdout.write(`${JSON.stringify(record)}\n`);
    } else {
      output.stdout.write(
        options.json
          ? `${JSON.stringify(record, null, 2)}\n`
          : `${formatRecord(target.path, record, options.mode)}\n`,
      );
      // The printed record already shows its error; JSON on stdout gets one line on stderr.
      if (error && options.json) output.stderr.write(`✗ ${target.path}: ${error.code}: ${error.message}\n`);
    }
    if (error) failed.push({ path: target.path, code: error.code, message: error.message });
    else described += 1;
    progress.step(target.relativePath);
  }
  progress.stop();

  if (batch) {
    output.stderr.write(`\n${summaryLine({ described, failed: failed.length, unchanged, skippedFiles })}\n`);
    // Problems with the paths given were printed above; the files' own errors are listed here, once.
    const problemPaths = new Set(problems.map((problem) => problem.path));
    for (const failure of failed.filter((f) => !problemPaths.has(f.path)))
      output.stderr.write(`  ✗ ${failure.path}: ${failure.code}: ${failure.message}\n`);
  }
  return { described, failed, skippedFiles, unchanged };
}

/** "3 described, 1 failed, 2 unchanged (--force describes them again), 1 non-image file skipped". */
function summaryLine(counts: { described: number; failed: number; unchanged: number; skippedFiles: number }) {
  const parts = [`${counts.described} described`, `${counts.failed} failed`];
  if (counts.unchanged > 0) parts.push(`${counts.unchanged} unchanged (--force describes them again)`);
  if (counts.skippedFiles > 0) parts.push(`${counts.skippedFiles} non-image file(s) skipped`);
  return parts.join(', ');
}

function skippedFoldersLine(folders: readonly string[]): string {
  const shown = folders.slice(0, 3).join(', ');
  const more = folders.length > 3 ? ` and ${folders.length - 3} more` : '';
  return `Not looking in ${folders.length} sub-folder(s) (${shown}${more}): add --recursive to describe their images too.`;
}

/** The models that would describe an image now: the manifest's tasks, the questions and categories. */
function currentModels(engine: DescribeEngine): CurrentModels {
  return {
    ...currentModelsOf(engine.models.manifest),
    ...currentQuestionKeys(engine.models, engine.settings.questions),
  };
}

/**
 * 'up-to-date' when the sidecar already describes these bytes with these models, as far as the
 * mode goes (fast: the fast stage; normal: both); else why it is stale, or undefined (describe it
 * afresh). A failed or waiting stage is run again: the run may now succeed, and it shows the error again.
 */
async function whatIsNeeded(
  target: DescribeTarget,
  previous: DescriptionRecord,
  mode: ModelMode,
  current: CurrentModels,
  maxBytes: number,
): Promise<StaleReason | 'up-to-date' | undefined> {
  if (previous.status.fast.state !== 'done') return undefined;
  if (mode === 'normal' && previous.status.detailed.state !== 'done') return undefined;
  let bytes: Buffer;
  try {
    bytes = await readInputFile(target.path, maxBytes);
  } catch {
    // Unreadable now: describing it again reports why.
    return undefined;
  }
  const need = needsDescription(previous, { sha256: sha256Hex(bytes) }, current);
  if (need === undefined || (mode === 'fast' && need.stage === 'detailed')) return 'up-to-date';
  return need.reason;
}
