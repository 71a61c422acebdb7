import type { FetchProgressEvent } from '#engine/models/fetch-models.ts';
import { ModelRegistry } from '#engine/models/registry.ts';

/** The command that installs the models; the page and the console name the same one. */
export const FETCH_COMMAND = 'npm run models:fetch';

/** What works offline: the tiny known-answer models the tests use, built locally. */
export const TINY_MODELS_HINT =
  'the tiny test models, which know only coloured squares: npm run fixtures -- --out /tmp/tiny-models, then npm start -- --models /tmp/tiny-models';

export interface MissingModelView {
  readonly id: string;
  /** What the model does: caption, objects, detailed, … */
  readonly tasks: readonly string[];
  readonly dir: string;
  readonly files: readonly string[];
}

/** `GET /models/status`: what the page shows before anything is uploaded. */
export interface ModelStatusView {
  readonly state: 'ready' | 'downloading' | 'missing';
  /** One sentence for a person: what this means and what to do. */
  readonly message: string;
  /** The command to run, when there is something to do. */
  readonly command?: string;
  readonly modelsDir: string;
  readonly missing: readonly MissingModelView[];
  /** While downloading: bytes so far and in all, over every model being fetched. */
  readonly download?: {
    readonly receivedBytes: number;
    readonly totalBytes: number;
    readonly percent: number;
  };
}

/**
 * The model state of the running stack: the registry's `missingModels()` (a file check, nothing is
 * loaded) plus the progress of a download `npm start` is running. Read on every request, so a model
 * set copied in by hand shows as ready without a restart.
 */
export class ModelStatus {
  private downloading = false;
  private readonly totals = new Map<string, number>();
  private readonly received = new Map<string, number>();

  /** `questionsAsked`: questions are configured, so the optional questions model matters too. */
  constructor(
    private readonly modelsDir: string,
    private readonly options: { readonly questionsAsked?: boolean } = {},
  ) {}

  /** Feed the download's progress events (models-step.ts). */
  onProgress(event: FetchProgressEvent): void {
    if (event.type === 'model') {
      this.downloading = true;
      this.totals.set(event.id, event.totalBytes);
      this.received.set(event.id, 0);
    } else if (event.type === 'bytes') {
      this.totals.set(event.id, event.totalBytes);
      this.received.set(event.id, event.receivedBytes);
    } else {
      this.received.set(event.id, this.totals.get(event.id) ?? event.downloadedBytes);
    }
  }

  /** The download ended (finished or failed): from now on the files on disk decide. */
  downloadEnded(): void {
    this.downloading = false;
  }

  async view(): Promise<ModelStatusView> {
    let missing: MissingModelView[];
    let questionsMissing = false;
    try {
      const registry = await ModelRegistry.open({ modelsDir: this.modelsDir, threads: 0 });
      missing = registry
        .missingModels()
        .map((m) => ({ id: m.id, tasks: [...m.tasks], dir: m.dir, files: [...m.files] }));
      questionsMissing =
        this.options.questionsAsked === true && registry.missingModels({ tasks: ['questions'] }).length > 0;
    } catch {
      // No readable manifest: nothing can be described by a model until a model set is there.
      missing = [
        {
          id: 'manifest.json',
          tasks: ['caption', 'detailed'],
          dir: this.modelsDir,
          files: ['manifest.json'],
        },
      ];
    }
    const base = { modelsDir: this.modelsDir, missing };
    if (missing.length === 0 && questionsMissing) {
      // The questions model is optional (models:fetch skips it): captions are ready, answers wait.
      return {
        ...base,
        state: 'ready',
        message:
          'Captions and detailed descriptions are written as images arrive. The questions model is not installed, so the answers to your questions wait for it: run the command below (no restart needed).',
        command: `${FETCH_COMMAND} -- --all`,
      };
    }
    if (missing.length === 0) {
      return {
        ...base,
        state: 'ready',
        message: 'Captions and detailed descriptions are written as images arrive.',
      };
    }
    if (this.downloading) {
      const totalBytes = sum(this.totals);
      const receivedBytes = Math.min(sum(this.received), totalBytes);
      const percent = totalBytes > 0 ? Math.floor((receivedBytes / totalBytes) * 100) : 0;
      return {
        ...base,
        state: 'downloading',
        message: `${percent}% done: images get colours and text now, and their captions as soon as the download ends.`,
        download: { receivedBytes, totalBytes, percent },
      };
    }
    const what = [...new Set(missing.flatMap((m) => m.tasks))].join(', ');
    return {
      ...base,
      state: 'missing',
      message: `The models for ${what} are not installed yet, so images get colours, image facts and text but no caption. With internet, run the command below (this page picks the models up without a restart). Offline, start with another model set, e.g. ${TINY_MODELS_HINT}.`,
      command: FETCH_COMMAND,
    };
  }
}

function sum(values: Map<string, number>): number {
  let total = 0;
  for (const value of values.values()) total += value;
  return total;
}
