import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigError, DescribeError, expected } from '../errors.ts';
import { localModels, type Manifest, type ModelSpec } from './manifest.ts';
import { expectedModelFiles } from './model-files.ts';
import { loadManifest } from './registry.ts';
import { modelFolder } from './transformers-env.ts';

/**
 * `npm run models:fetch` and the local stack's first run: download the manifest's default models (or
 * the selected ones) into `<modelsDir>/<id>/`, from `${HF_ENDPOINT}/<id>/resolve/<revision>/<file>` — the pinned revision,
 * only the files of the chosen dtypes. Files go to a temporary name and are renamed when complete, so
 * the runtime never sees half a file; a `.revision` marker records what was fetched, so a complete
 * model is recognised without touching the network. Offline, it fails at once (every request has a
 * short connect timeout) with one message naming each model, its revision and the folder to fill.
 */

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
/** Marker written into each fetched model folder. */
export const REVISION_MARKER = '.revision';

/** The hub could not be reached at all (DNS, refused, timeout): nothing to retry until online. */
export class ModelsOfflineError extends DescribeError {
  readonly code = 'MODEL_NOT_FOUND' as const;
  readonly permanent = false;
}

/** The hub answered but a file could not be had (404, 401, size mismatch). */
export class ModelDownloadError extends DescribeError {
  readonly code = 'MODEL_NOT_FOUND' as const;
  readonly permanent = false;
}

export type FetchProgressEvent =
  | {
      readonly type: 'model';
      readonly id: string;
      readonly revision: string;
      readonly dir: string;
      /** Bytes still to download for this model (0 when complete). */
      readonly totalBytes: number;
      /** Files to download; the others are already there. */
      readonly files: readonly string[];
    }
  | {
      readonly type: 'bytes';
      readonly id: string;
      readonly file: string;
      /** Bytes of this model downloaded so far. */
      readonly receivedBytes: number;
      readonly totalBytes: number;
    }
  | { readonly type: 'done'; readonly id: string; readonly downloadedBytes: number };

export interface FetchOptions {
  /** Hub base URL; default `HF_ENDPOINT` or https://huggingface.co. */
  readonly endpoint?: string;
  /** How long to wait for a server to answer before calling it offline. Default 8 s. */
  readonly connectTimeoutMs?: number;
  /** How long a download may stall mid-file. Default 60 s. */
  readonly idleTimeoutMs?: number;
  readonly onProgress?: (event: FetchProgressEvent) => void;
  /** Draw cli-progress bars on stderr (what `npm run models:fetch` and `npm start` show). */
  readonly progress?: boolean;
  /** Which models; default: the manifest's `"fetch": "default"` models. */
  readonly models?: ModelSelection;
}

export interface FetchedModel {
  readonly id: string;
  readonly revision: string;
  readonly dir: string;
  /** Files downloaded in this run (empty when the folder was already complete). */
  readonly downloaded: readonly string[];
  readonly downloadedBytes: number;
}

interface Marker {
  readonly id: string;
  readonly revision: string;
  readonly files: Readonly<Record<string, number>>;
}

interface PlannedFile {
  readonly file: string;
  readonly url: string;
  readonly size: number | undefined;
  /** SHA-256 the hub announces for LFS files (X-Linked-Etag); checked after download. */
  readonly sha256: string | undefined;
}

interface Plan {
  readonly spec: ModelSpec;
  readonly dir: string;
  readonly files: readonly string[];
  /** undefined: complete locally, no request needed. */
  toFetch?: PlannedFile[];
  done?: boolean;
}

/** Runs a hub request; a network failure (not an HTTP answer) becomes the offline message. */
async function offlineAware<T>(
  endpoint: string,
  pending: readonly Plan[],
  url: string,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const cause = networkCause(error);
    if (cause) throw new ModelsOfflineError(offlineMessage(endpoint, cause, pending), { cause: error });
    if (error instanceof DescribeError) throw error;
    // fetch's own "fetch failed" says nothing: name the URL and the underlying reason.
    const reason = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
    throw new ModelDownloadError(`Could not download ${url}: ${reason}`, { cause: error });
  }
}

const NETWORK_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** A failure to reach the server (as opposed to an HTTP answer): DNS, refused, reset, timed out. */
function networkCause(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const { name, code, message } = current as { name?: string; code?: string; message?: string };
    if (name === 'AbortError' || name === 'TimeoutError') return 'no answer in time';
    if (code && NETWORK_CODES.has(code)) return message ? `${code}: ${message}` : code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function fileUrl(endpoint: string, spec: ModelSpec, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint.replace(/\/+$/, '')}/${spec.id}/resolve/${encodeURIComponent(spec.revision)}/${path}`;
}

async function sizeOf(path: string): Promise<number | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? info.size : undefined;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    const marker = JSON.parse(await readFile(join(dir, REVISION_MARKER), 'utf8')) as Marker;
    return typeof marker.revision === 'string' && marker.files ? marker : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Complete without asking the hub: every file is there, and when a marker exists it names this
 * revision and the sizes match. A folder filled by hand (offline, no marker) counts as complete.
 */
async function completeLocally(dir: string, spec: ModelSpec, files: readonly string[]): Promise<boolean> {
  const marker = await readMarker(dir);
  if (marker && marker.revision !== spec.revision) return false;
  for (const file of files) {
    const size = await sizeOf(join(dir, file));
    if (size === undefined) return false;
    if (marker?.files[file] !== undefined && marker.files[file] !== size) return false;
  }
  return true;
}

/** fetch with a deadline for the answer's headers: a dead network fails in seconds, not minutes. */
async function request(
  url: string,
  method: 'HEAD' | 'GET',
  timeoutMs: number,
  redirect: RequestRedirect = 'follow',
): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    // identity: the hub may gzip small files, and then Content-Length is not the file's size.
    return await fetch(url, {
      method,
      redirect,
      signal: controller.signal,
      headers: { 'accept-encoding': 'identity', 'user-agent': 'image-describer-models-fetch' },
    });
  } finally {
    clearTimeout(timer);
  }
}

function httpError(spec: ModelSpec, file: string, url: string, response: Response): ModelDownloadError {
  const hint =
    response.status === 401 || response.status === 403
      ? ' (the repository may be gated or private)'
      : response.status === 404
        ? ' (is the file name right for this dtype, and does the revision exist?)'
        : '';
  return new ModelDownloadError(
    `${expected(`${file} of ${spec.id} at revision ${spec.revision}`, url, `HTTP ${response.status} ${response.statusText}`.trim())}${hint}`,
  );
}

/**
 * What the hub says about a file, as huggingface_hub reads it: HEAD without following the CDN redirect,
 * because the redirect carries the LFS file's size (X-Linked-Size) and SHA-256 (X-Linked-Etag).
 * Relative redirects (renamed repositories) are followed; small files answer 200 with Content-Length.
 */
async function remoteInfo(
  spec: ModelSpec,
  file: string,
  url: string,
  timeoutMs: number,
): Promise<{ size: number | undefined; sha256: string | undefined }> {
  const count = (value: string | null) => {
    const n = value === null ? Number.NaN : Number(value);
    return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  };
  const sha = (etag: string | null) => {
    const bare = etag?.replace(/^W\//, '').replaceAll('"', '').toLowerCase();
    return bare && /^[0-9a-f]{64}$/.test(bare) ? bare : undefined;
  };
  let current = url;
  for (let hop = 0; hop < 5; hop++) {
    const response = await request(current, 'HEAD', timeoutMs, 'manual');
    const linkedSize = count(response.headers.get('x-linked-size'));
    const linkedSha = sha(response.headers.get('x-linked-etag'));
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      if (linkedSize !== undefined) return { size: linkedSize, sha256: linkedSha };
      current = new URL(location, current).href;
      continue;
    }
    if (!response.ok) throw httpError(spec, file, url, response);
    return { size: linkedSize ?? count(response.headers.get('content-length')), sha256: linkedSha };
  }
  throw new ModelDownloadError(`Too many redirects for ${file} of ${spec.id} (${url})`);
}

async function download(
  spec: ModelSpec,
  planned: PlannedFile,
  dest: string,
  options: { connectTimeoutMs: number; idleTimeoutMs: number; onBytes: (n: number) => void },
): Promise<number> {
  const response = await request(planned.url, 'GET', options.connectTimeoutMs);
  if (!response.ok || !response.body) throw httpError(spec, planned.file, planned.url, response);
  await mkdir(dirname(dest), { recursive: true });
  const temp = `${dest}.part-${process.pid}`;
  let received = 0;
  const hash = createHash('sha256');
  let idle: NodeJS.Timeout | undefined;
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
  const resetIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(
      () => body.destroy(Object.assign(new Error('download stalled'), { code: 'ETIMEDOUT' })),
      options.idleTimeoutMs,
    );
  };
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      hash.update(chunk);
      resetIdle();
      options.onBytes(chunk.length);
      callback(null, chunk);
    },
  });
  try {
    resetIdle();
    await pipeline(body, counter, createWriteStream(temp));
    const encoded = (response.headers.get('content-encoding') ?? 'identity') !== 'identity';
    const announced = encoded
      ? Number.NaN
      : (planned.size ?? Number(response.headers.get('content-length') ?? Number.NaN));
    if (Number.isFinite(announced) && received !== announced) {
      throw new ModelDownloadError(
        expected(`${announced} bytes`, `${planned.file} of ${spec.id} (${planned.url})`, `${received} bytes`),
      );
    }
    const digest = hash.digest('hex');
    if (planned.sha256 && !encoded && digest !== planned.sha256) {
      throw new ModelDownloadError(
        expected(`SHA-256 ${planned.sha256}`, `${planned.file} of ${spec.id} (${planned.url})`, digest),
      );
    }
    await rename(temp, dest);
    return received;
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  } finally {
    clearTimeout(idle);
  }
}

function offlineMessage(endpoint: string, cause: string, plans: readonly Plan[]): string {
  const lines = [
    `Cannot reach the model hub at ${endpoint} (${cause}); this machine looks offline.`,
    'Download these models elsewhere and copy their files into the folders below (same names, same layout),',
    'or run `npm run models:fetch` again once online:',
  ];
  for (const plan of plans) {
    lines.push(
      `  - ${plan.spec.id} at revision ${plan.spec.revision}`,
      `      into ${plan.dir}`,
      `      files: ${plan.files.join(', ')}`,
      `      from ${endpoint.replace(/\/+$/, '')}/${plan.spec.id}/tree/${plan.spec.revision}`,
    );
  }
  return lines.join('\n');
}

/**
 * Which models to fetch: `default` = the models marked `"fetch": "default"` (the default lineup is
 * one model), `all` = every model of the manifest, or the given model names.
 */
export type ModelSelection = 'default' | 'all' | readonly string[];

/** The distinct models selected (manifest order), once per id and revision. */
function specsOf(manifest: Manifest, selection: ModelSelection): ModelSpec[] {
  // Remote models have nothing to download.
  const local = Object.fromEntries(localModels(manifest));
  const names = Object.keys(local);
  if (Array.isArray(selection)) {
    const unknown = selection.filter((name) => !Object.hasOwn(local, name));
    if (unknown.length > 0) {
      throw new ConfigError(expected(`model names among ${names.join(', ')}`, '--model', unknown.join(', ')));
    }
  }
  const chosen = names.filter((name) =>
    selection === 'all'
      ? true
      : selection === 'default'
        ? local[name]?.fetch === 'default'
        : selection.includes(name),
  );
  const seen = new Set<string>();
  return chosen
    .map((name) => local[name] as ModelSpec)
    .filter((spec) => {
      const key = `${spec.id}@${spec.revision}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

/**
 * Downloads whatever the model set at `modelsDir` lacks. Resolves with one entry per model (an empty
 * `downloaded` list when nothing was needed); rejects with `ModelsOfflineError` when the hub cannot
 * be reached and `ModelDownloadError` when it refuses a file.
 * Also callable as `fetchMissingModels({ modelsDir, progress })`.
 */
export async function fetchMissingModels(
  modelsDirOrOptions: string | (FetchOptions & { readonly modelsDir: string }),
  maybeOptions: FetchOptions = {},
): Promise<FetchedModel[]> {
  const options = typeof modelsDirOrOptions === 'string' ? maybeOptions : modelsDirOrOptions;
  const modelsDir = resolve(
    typeof modelsDirOrOptions === 'string' ? modelsDirOrOptions : modelsDirOrOptions.modelsDir,
  );
  const endpoint = options.endpoint ?? (process.env.HF_ENDPOINT || DEFAULT_HF_ENDPOINT);
  const connectTimeoutMs = options.connectTimeoutMs ?? 8_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const bars = options.progress ? await progressBars() : undefined;
  const emit = (event: FetchProgressEvent) => {
    bars?.onProgress(event);
    options.onProgress?.(event);
  };

  try {
    const manifest = await loadManifest(modelsDir);
    const plans: Plan[] = [];
    for (const spec of specsOf(manifest, options.models ?? 'default')) {
      const dir = modelFolder(spec, modelsDir);
      const files = expectedModelFiles(spec);
      plans.push({ spec, dir, files });
    }

    // Phase 1, before any download: what is missing, and how big is it. Offline fails here, at once.
    const incomplete: Plan[] = [];
    for (const plan of plans) {
      if (!(await completeLocally(plan.dir, plan.spec, plan.files))) incomplete.push(plan);
    }
    for (const plan of incomplete) {
      const marker = await readMarker(plan.dir);
      // Sizes only prove a file current when it came from this revision (or no marker says otherwise).
      const trustLocal = !marker || marker.revision === plan.spec.revision;
      const toFetch: PlannedFile[] = [];
      for (const file of plan.files) {
        const url = fileUrl(endpoint, plan.spec, file);
        const { size, sha256 } = await offlineAware(endpoint, incomplete, url, () =>
          remoteInfo(plan.spec, file, url, connectTimeoutMs),
        );
        const local = await sizeOf(join(plan.dir, file));
        // Same size (and, for LFS files, same SHA-256): a file copied by hand or left by an earlier run.
        const same =
          trustLocal &&
          local === size &&
          size !== undefined &&
          (!sha256 || (await sha256Of(join(plan.dir, file))) === sha256);
        if (same) continue;
        toFetch.push({ file, url, size, sha256 });
      }
      plan.toFetch = toFetch;
    }

    // Phase 2: download, model by model, file by file.
    const results: FetchedModel[] = [];
    for (const plan of plans) {
      const toFetch = plan.toFetch ?? [];
      const totalBytes = toFetch.reduce((sum, f) => sum + (f.size ?? 0), 0);
      emit({
        type: 'model',
        id: plan.spec.id,
        revision: plan.spec.revision,
        dir: plan.dir,
        totalBytes,
        files: toFetch.map((f) => f.file),
      });
      let receivedBytes = 0;
      for (const planned of toFetch) {
        await offlineAware(
          endpoint,
          incomplete.filter((p) => !p.done),
          planned.url,
          () =>
            download(plan.spec, planned, join(plan.dir, planned.file), {
              connectTimeoutMs,
              idleTimeoutMs,
              onBytes: (n) => {
                receivedBytes += n;
                emit({ type: 'bytes', id: plan.spec.id, file: planned.file, receivedBytes, totalBytes });
              },
            }),
        );
      }
      if (plan.toFetch) await writeMarker(plan);
      plan.done = true;
      emit({ type: 'done', id: plan.spec.id, downloadedBytes: receivedBytes });
      results.push({
        id: plan.spec.id,
        revision: plan.spec.revision,
        dir: plan.dir,
        downloaded: toFetch.map((f) => f.file),
        downloadedBytes: receivedBytes,
      });
    }
    return results;
  } finally {
    bars?.stop();
  }
}

async function writeMarker(plan: Plan): Promise<void> {
  const files: Record<string, number> = {};
  for (const file of plan.files) files[file] = (await sizeOf(join(plan.dir, file))) ?? 0;
  const marker: Marker = { id: plan.spec.id, revision: plan.spec.revision, files };
  const path = join(plan.dir, REVISION_MARKER);
  await writeFile(`${path}.tmp`, `${JSON.stringify(marker, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

/** One cli-progress bar per model, in bytes, on stderr (stdout stays clean for scripts). */
async function progressBars(): Promise<{
  onProgress: (event: FetchProgressEvent) => void;
  stop: () => void;
}> {
  const { MultiBar, Presets } = (await import('cli-progress')).default;
  const multibar = new MultiBar(
    {
      format: ' {bar} {percentage}% | {value}/{total} MB | {id}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      stream: process.stderr,
    },
    Presets.shades_classic,
  );
  const bars = new Map<string, ReturnType<typeof multibar.create>>();
  const mb = (bytes: number) => Math.round((bytes / 1e6) * 10) / 10;
  return {
    onProgress(event) {
      if (event.type === 'model') {
        // Complete models get no bar: nothing moves, and the caller reports them.
        if (event.files.length === 0) return;
        bars.set(event.id, multibar.create(mb(event.totalBytes), 0, { id: event.id }));
      } else if (event.type === 'bytes') {
        bars.get(event.id)?.update(Math.min(mb(event.receivedBytes), mb(event.totalBytes)), { id: event.id });
      } else {
        bars.get(event.id)?.update(mb(event.downloadedBytes), { id: `${event.id} ✓` });
      }
    },
    stop: () => multibar.stop(),
  };
}
