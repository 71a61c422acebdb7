import { readFileSync } from 'node:fs';
import { ConfigError, expected, packagePath } from '#engine/index.ts';
import { isRemoteSpec, manifestSchema } from '#engine/models/index.ts';

/** AWS guidance for SQS-triggered functions, shared with the local stack's queue. */
export { VISIBILITY_TO_TIMEOUT_RATIO } from '#engine/pipeline/index.ts';

/** Lambda gives one full vCPU per 1769 MB of memory, up to 6 vCPUs at 10240 MB. */
export const MB_PER_VCPU = 1769;
export const LAMBDA_MAX_VCPUS = 6;
export const LAMBDA_MIN_MEMORY_MB = 128;
export const LAMBDA_MAX_MEMORY_MB = 10_240;
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/**
 * onnxruntime intra-op threads for a memory size: one per whole vCPU the memory buys (at least one).
 * More threads than vCPUs only adds contention; fewer leaves paid-for cores idle.
 */
export function threadsForMemory(memoryMB: number): number {
  assertMemory(memoryMB, 'memoryMB');
  // The maximum memory buys the sixth vCPU although 10240 / 1769 is only 5.8.
  if (memoryMB === LAMBDA_MAX_MEMORY_MB) return LAMBDA_MAX_VCPUS;
  return Math.max(1, Math.min(LAMBDA_MAX_VCPUS, Math.floor(memoryMB / MB_PER_VCPU)));
}

export function assertMemory(memoryMB: number, name: string): void {
  if (!Number.isInteger(memoryMB) || memoryMB < LAMBDA_MIN_MEMORY_MB || memoryMB > LAMBDA_MAX_MEMORY_MB) {
    throw new ConfigError(
      expected(`an integer from ${LAMBDA_MIN_MEMORY_MB} to ${LAMBDA_MAX_MEMORY_MB} (MB)`, name, memoryMB),
    );
  }
}

export function assertTimeoutSeconds(seconds: number, name: string): void {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > LAMBDA_MAX_TIMEOUT_SECONDS) {
    throw new ConfigError(
      expected(`an integer from 1 to ${LAMBDA_MAX_TIMEOUT_SECONDS} (seconds)`, name, seconds),
    );
  }
}

export function assertIntegerInRange(value: number, min: number, max: number, name: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(expected(`an integer from ${min} to ${max}`, name, value));
  }
}

// ---------------------------------------------------------------------------------------------
// Sizing of the two describe functions, derived from the production model lineup (Florence-2 for
// caption + objects in the fast stage and <MORE_DETAILED_CAPTION> in the detailed stage; SmolVLM
// only as an optional questions model). docs/cost.md is generated from these figures
// (`npx tsx infra/cost.ts --write`) and a test keeps it in step.
// ---------------------------------------------------------------------------------------------

/** Where a figure comes from: every duration that is not `public` or `here` is an assumption. */
export type FigureSource = 'public' | 'here' | 'assumed';

export interface Figure {
  readonly value: number;
  readonly unit: string;
  readonly source: FigureSource;
  /** What the figure is and why it has this value. */
  readonly note: string;
}

export const FIGURE_SOURCES: Readonly<Record<FigureSource, string>> = {
  public:
    'public measurements quoted in issue 9, transformers.js 4.2/4.3 on CPU (Node, q4); the CPU and thread count behind them were not given',
  here: "measured on this repository's 2-core build machine (docs/benchmarks.md: `npm run bench`, `npm run bench:ocr`)",
  assumed: 'assumption: not measured anywhere; replace with a Lambda measurement when there is one',
};

const figure = (value: number, unit: string, source: FigureSource, note: string): Figure => ({
  value,
  unit,
  source,
  note,
});

/** Public figures for the production lineup, and what was measured here. */
export const LINEUP_FIGURES = Object.freeze({
  florenceDetailedCaptionS: figure(
    1.33,
    's',
    'public',
    'Florence-2-base-ft <DETAILED_CAPTION>, upper end of 1.08-1.33 s',
  ),
  florenceMoreDetailedCaptionS: figure(
    1.35,
    's',
    'public',
    'Florence-2-base-ft <MORE_DETAILED_CAPTION>, upper end of 1.19-1.35 s',
  ),
  florenceEncoderShare: figure(0.9, '', 'public', "share of a caption's time spent in the vision encoder"),
  florenceMsPerToken: figure(12, 'ms', 'public', 'Florence-2 decoder, per generated token'),
  florencePeakRssMB: figure(1800, 'MB', 'public', 'Florence-2-base-ft q4, peak RSS of the Node process'),
  smolvlmSecondsPerImage: figure(10.8, 's', 'public', 'SmolVLM-256M q4, upper end of 7.0-10.8 s per image'),
  smolvlmPeakRssMB: figure(4301, 'MB', 'public', 'SmolVLM-256M q4, peak RSS about 4.2 GiB'),
  ocrRssMB: figure(
    469,
    'MB',
    'here',
    'PP-OCRv4 reader, peak RSS over 500 reads of signs, pages and photos after intake (npm run bench:ocr -- --memory)',
  ),
  ocrTypicalCpuS: figure(
    0.35,
    's',
    'here',
    'OCR of a 1 MP image with ten lines, CPU time (detector 2 threads, int8 recogniser 1; warm)',
  ),
  ocrPageCpuS: figure(
    7.76,
    's',
    'here',
    "OCR of a 1 MP page of 60 lines of small print after intake, CPU time (detector 2 threads, int8 recogniser 1; the reader's 10 s wall-clock budget cuts a denser one)",
  ),
  intakePeakMB: figure(80, 'MB', 'here', 'intake peak for a 24 MP PNG (a JPEG adds 13 MB)'),
});

/** Download sizes of the fast stage's models, from the manifest's `sizeMB` (file listings). */
export interface FastModelSizes {
  /** The caption and objects model (Florence-2), MB. */
  readonly captionMB: number;
  /** The embedding model (both CLIP towers: the image tower per image, the text tower for category prompts), MB; 0 without one. */
  readonly embeddingMB: number;
}

/** The fast stage's model sizes in a manifest (models/manifest.json by default). */
export function fastModelSizes(file = packagePath('models', 'manifest.json')): FastModelSizes {
  const { models, tasks } = manifestSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const sizeOf = (name: string | undefined) => {
    const spec = name ? models[name] : undefined;
    return spec && !isRemoteSpec(spec) ? (spec.sizeMB ?? 0) : 0;
  };
  const embeddingModel = tasks.embedding?.model;
  return {
    captionMB: sizeOf(tasks.caption.model),
    // The same model for both would be loaded once.
    embeddingMB: embeddingModel === tasks.caption.model ? 0 : sizeOf(embeddingModel),
  };
}

/** What sizing needs that nobody has measured. Each is marked `assumed` in docs/cost.md. */
export const SIZING_ASSUMPTIONS = Object.freeze({
  lambdaSlowdown: figure(
    2,
    'x',
    'assumed',
    'a 2-vCPU arm64 Lambda is taken as 2x slower than the machine behind the public figures (its CPU, threads and beam settings are unknown)',
  ),
  fp32VisionEncoderExtraMB: figure(
    300,
    'MB',
    'assumed',
    'our manifest keeps the vision encoder fp32 (367 MB file) where the public run was q4',
  ),
  captionStandsInForDetailedS: figure(
    1.33,
    's',
    'assumed',
    '<CAPTION> has no public figure; <DETAILED_CAPTION> (1.33 s) is used as its upper bound',
  ),
  objectsTokens: figure(
    60,
    'tokens',
    'assumed',
    '<OD> answer of ~10 objects x (label + 4 location tokens + separator); it shares the encoder pass',
  ),
  ioSeconds: figure(
    0.3,
    's',
    'assumed',
    'S3 GET/PUT, intake and palette per invocation (intake + palette ≈ 60 ms here)',
  ),
  coldLoadSeconds: figure(
    10,
    's',
    'assumed',
    'a cold start loading ~620 MB of ONNX from the container image (the tiny test models load in ~0.1 s here); the fast function, which also loads the embedding model, in proportion to the bytes it reads',
  ),
  embeddingRssPerFileMB: figure(
    1,
    'x',
    'assumed',
    "the embedding model's resident memory taken as its file size (q8 weights are held as stored; no RSS figure for this export was found)",
  ),
  coldShare: figure(0.1, '', 'assumed', 'share of invocations that are cold starts'),
  memoryHeadroom: figure(1.2, 'x', 'assumed', 'above the summed peak RSS (fragmentation, large inputs)'),
  timeoutSafety: figure(1.5, 'x', 'assumed', 'above the worst case (every generation at its token cap)'),
  ocrTimeBudgetS: figure(
    10,
    's',
    'assumed',
    "the OCR reader's wall-clock budget per image (timeBudgetMs): the bound on a page of any density on any CPU",
  ),
});

/**
 * Decoder steps at the generation caps (max_new_tokens x num_beams), per Florence-2 task: the worst
 * case a timeout must cover. A test checks them against models/manifest.json.
 */
export const WORST_CASE_DECODE_STEPS: Readonly<Record<string, number>> = Object.freeze({
  '<CAPTION>': 40 * 3,
  '<OD>': 256 * 3,
  '<MORE_DETAILED_CAPTION>': 256 * 3,
});

export interface FunctionSizing {
  readonly memoryMB: number;
  readonly threads: number;
  readonly timeoutSeconds: number;
  /** Summed peak RSS before headroom, MB. */
  readonly needMB: number;
  /** Expected warm duration of one image (assumed: built on `lambdaSlowdown`), s. */
  readonly warmSeconds: number;
  /** One image with every generation at its cap, plus a cold start, s. */
  readonly worstSeconds: number;
  /** A cold start's model load (assumed: in proportion to the model bytes read), s. */
  readonly coldLoadSeconds: number;
  /** One line per term, for the docs. */
  readonly derivation: readonly string[];
}

export interface LineupSizing {
  readonly fast: FunctionSizing;
  readonly detailed: FunctionSizing;
}

const r2 = (value: number) => Math.round(value * 100) / 100;

/**
 * At least `minVcpus` vCPUs and `needMB` x headroom, rounded up to whole vCPUs: a fraction of a vCPU
 * is paid for but gets no onnxruntime thread (threadsForMemory counts whole ones).
 */
function memoryFor(needMB: number, minVcpus: number): number {
  const wanted = Math.ceil(needMB * SIZING_ASSUMPTIONS.memoryHeadroom.value);
  const vcpus = Math.max(minVcpus, Math.ceil(wanted / MB_PER_VCPU));
  return vcpus >= LAMBDA_MAX_VCPUS ? LAMBDA_MAX_MEMORY_MB : vcpus * MB_PER_VCPU;
}

function timeoutFor(worstSeconds: number): number {
  // Whole half-minutes: the timeout is a bound on a stuck run, not a latency promise.
  const seconds = Math.ceil((worstSeconds * SIZING_ASSUMPTIONS.timeoutSafety.value) / 30) * 30;
  return Math.min(LAMBDA_MAX_TIMEOUT_SECONDS, seconds);
}

/**
 * Memory, threads and timeout of both functions for the lineup. `questions`: how many SmolVLM
 * answers the detailed stage produces per image (0 in the default lineup; SmolVLM then also needs its
 * ~4.2 GiB). Both functions get 2 vCPUs: the vision encoder (≈ 90% of a task) parallelises over
 * onnxruntime's threads, and 2 threads at 3538 MB cost less per image than 1 thread at the ~3.1 GB
 * the models need if the second thread speeds the image up by more than 13% (assumed it does).
 */
export function deriveSizing(
  options: { questions?: number; fastModels?: FastModelSizes } = {},
): LineupSizing {
  const questions = options.questions ?? 0;
  assertIntegerInRange(questions, 0, 100, 'questions');
  const { captionMB, embeddingMB } = options.fastModels ?? PRODUCTION_FAST_MODELS;
  const F = LINEUP_FIGURES;
  const A = SIZING_ASSUMPTIONS;
  const slow = A.lambdaSlowdown.value;
  const tokenS = F.florenceMsPerToken.value / 1000;
  const encoderS = F.florenceEncoderShare.value * F.florenceDetailedCaptionS.value;
  const steps = (task: string) => WORST_CASE_DECODE_STEPS[task] ?? 0;
  const florenceMB = F.florencePeakRssMB.value + A.fp32VisionEncoderExtraMB.value;
  const ocrMB = F.ocrRssMB.value;
  const ocrPageS = worstOcrPageSeconds();

  // Fast: caption + objects from ONE encoder pass. Sized for OCR too (deploy with ocrStage=fast)
  // although OCR runs in the detailed stage by default, so switching the stage needs no resize.
  // The embedding model (manifest sizeMB) is in memory beside Florence-2, and read at cold start.
  const clipMB = Math.ceil(embeddingMB * A.embeddingRssPerFileMB.value);
  const fastNeed = florenceMB + clipMB + ocrMB + F.intakePeakMB.value;
  const fastLoadS =
    captionMB > 0
      ? r2((A.coldLoadSeconds.value * (captionMB + embeddingMB)) / captionMB)
      : A.coldLoadSeconds.value;
  const fastModelS = A.captionStandsInForDetailedS.value + A.objectsTokens.value * tokenS;
  const fastWarm = fastModelS * slow + A.ioSeconds.value;
  const fastWorst =
    fastLoadS +
    (encoderS + (steps('<CAPTION>') + steps('<OD>')) * tokenS) * slow +
    ocrPageS +
    A.ioSeconds.value;
  const fastMemory = memoryFor(fastNeed, 2);

  // Detailed: its own encoder pass (another process) for <MORE_DETAILED_CAPTION>, then OCR.
  const smolMB = questions > 0 ? F.smolvlmPeakRssMB.value : 0;
  const detailedNeed = florenceMB + ocrMB + F.intakePeakMB.value + smolMB;
  const questionS = questions * F.smolvlmSecondsPerImage.value * slow;
  const detailedWarm =
    F.florenceMoreDetailedCaptionS.value * slow + F.ocrTypicalCpuS.value + questionS + A.ioSeconds.value;
  const detailedWorst =
    A.coldLoadSeconds.value * (questions > 0 ? 2 : 1) +
    (encoderS + steps('<MORE_DETAILED_CAPTION>') * tokenS) * slow +
    ocrPageS +
    questionS +
    A.ioSeconds.value;
  const detailedMemory = memoryFor(detailedNeed, 2);

  return {
    fast: {
      memoryMB: fastMemory,
      threads: threadsForMemory(fastMemory),
      timeoutSeconds: timeoutFor(fastWorst),
      needMB: fastNeed,
      warmSeconds: r2(fastWarm),
      worstSeconds: r2(fastWorst),
      coldLoadSeconds: fastLoadS,
      derivation: [
        `need ${florenceMB} MB Florence-2 (1800 public + 300 assumed fp32 encoder) + ${clipMB} MB embedding model (manifest sizeMB ${embeddingMB}, RSS taken as file size [assumed]) + ${ocrMB} MB OCR (here, for ocrStage=fast) + ${F.intakePeakMB.value} MB intake (here) = ${fastNeed} MB; x ${A.memoryHeadroom.value} headroom = ${Math.ceil(fastNeed * A.memoryHeadroom.value)} MB; at least 2 vCPUs, whole vCPUs of ${MB_PER_VCPU} MB → ${fastMemory} MB`,
        `warm: (${A.captionStandsInForDetailedS.value} s caption [assumed = <DETAILED_CAPTION> public] + ${A.objectsTokens.value} tokens x ${F.florenceMsPerToken.value} ms objects [assumed count, public rate]) x ${slow} Lambda [assumed] + ${A.ioSeconds.value} s I/O [assumed] = ${r2(fastWarm)} s`,
        `worst: ${fastLoadS} s cold load (${A.coldLoadSeconds.value} s [assumed] x (${captionMB} + ${embeddingMB}) / ${captionMB} MB, manifest sizeMB) + (${r2(encoderS)} s encoder + ${steps('<CAPTION>') + steps('<OD>')} decoder steps x ${F.florenceMsPerToken.value} ms) x ${slow} + ${ocrPageS} s OCR page (the larger of the measured page and the budget) + ${A.ioSeconds.value} s = ${r2(fastWorst)} s; x ${A.timeoutSafety.value}, whole half-minutes → ${timeoutFor(fastWorst)} s`,
      ],
    },
    detailed: {
      memoryMB: detailedMemory,
      threads: threadsForMemory(detailedMemory),
      timeoutSeconds: timeoutFor(detailedWorst),
      needMB: detailedNeed,
      warmSeconds: r2(detailedWarm),
      worstSeconds: r2(detailedWorst),
      coldLoadSeconds: A.coldLoadSeconds.value * (questions > 0 ? 2 : 1),
      derivation: [
        `need ${florenceMB} MB Florence-2 + ${ocrMB} MB OCR + ${F.intakePeakMB.value} MB intake${smolMB ? ` + ${smolMB} MB SmolVLM (public)` : ''} = ${detailedNeed} MB; x ${A.memoryHeadroom.value} = ${Math.ceil(detailedNeed * A.memoryHeadroom.value)} MB; at least 2 vCPUs, whole vCPUs → ${detailedMemory} MB`,
        `warm: ${F.florenceMoreDetailedCaptionS.value} s <MORE_DETAILED_CAPTION> (public) x ${slow} [assumed] + ${F.ocrTypicalCpuS.value} s OCR (here)${questions ? ` + ${questions} x ${F.smolvlmSecondsPerImage.value} s SmolVLM (public) x ${slow}` : ''} + ${A.ioSeconds.value} s I/O [assumed] = ${r2(detailedWarm)} s`,
        `worst: ${A.coldLoadSeconds.value * (questions > 0 ? 2 : 1)} s cold load [assumed] + (${r2(encoderS)} s encoder + ${steps('<MORE_DETAILED_CAPTION>')} decoder steps x ${F.florenceMsPerToken.value} ms) x ${slow} + ${ocrPageS} s OCR page (the larger of the measured page and the budget)${questions ? ` + ${r2(questionS)} s questions` : ''} + ${A.ioSeconds.value} s = ${r2(detailedWorst)} s; x ${A.timeoutSafety.value}, whole half-minutes → ${timeoutFor(detailedWorst)} s`,
      ],
    },
  };
}

/** How the worker calls a remote model (the manifest's spec of the detailed/questions model). */
export interface RemoteCalls {
  /** One request's time limit (ms). */
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** Requests per image: the detailed description plus each question the remote model answers. */
  readonly requestsPerImage: number;
}

/**
 * The page was measured on this x86 CPU with int8 dot-product instructions; the reader's time
 * budget bounds a page on any CPU, so the worst case takes the larger of the two.
 */
function worstOcrPageSeconds(): number {
  return Math.max(LINEUP_FIGURES.ocrPageCpuS.value, SIZING_ASSUMPTIONS.ocrTimeBudgetS.value);
}

/** Longest wait between two attempts (a Retry-After is waited out up to this; runners/remote.ts). */
export const REMOTE_MAX_WAIT_SECONDS = 30;

/**
 * The detailed worker when its model answers over the network: no model weights in memory (OCR and
 * intake only, so one vCPU), and a timeout that covers every request of an image at its limit with
 * every retry and wait, plus OCR and I/O; capped at Lambda's 900 s (a longer worst case is retried by
 * the queue, which the timeout's visibility ratio allows for).
 */
export function deriveRemoteDetailedSizing(remote: RemoteCalls): FunctionSizing {
  assertIntegerInRange(remote.requestsPerImage, 1, 101, 'requestsPerImage');
  const F = LINEUP_FIGURES;
  const A = SIZING_ASSUMPTIONS;
  const need = F.ocrRssMB.value + F.intakePeakMB.value;
  const memoryMB = memoryFor(need, 1);
  const attempts = remote.maxRetries + 1;
  const perRequestS = (attempts * remote.timeoutMs) / 1000 + remote.maxRetries * REMOTE_MAX_WAIT_SECONDS;
  const ocrPageS = worstOcrPageSeconds();
  const worst = remote.requestsPerImage * perRequestS + ocrPageS + A.ioSeconds.value;
  const timeoutSeconds = timeoutFor(worst);
  return {
    memoryMB,
    threads: threadsForMemory(memoryMB),
    timeoutSeconds,
    needMB: need,
    // The remote model's latency is the server's: not known here.
    warmSeconds: r2(F.ocrTypicalCpuS.value + A.ioSeconds.value),
    worstSeconds: r2(worst),
    // OCR sessions only: no model weights to read.
    coldLoadSeconds: 0,
    derivation: [
      `need ${F.ocrRssMB.value} MB OCR (here) + ${F.intakePeakMB.value} MB intake (here) = ${need} MB, no local model; x ${A.memoryHeadroom.value} headroom, whole vCPUs → ${memoryMB} MB`,
      `worst: ${remote.requestsPerImage} request(s) x (${attempts} attempts x ${remote.timeoutMs / 1000} s timeout + ${remote.maxRetries} waits x ${REMOTE_MAX_WAIT_SECONDS} s) + ${ocrPageS} s OCR page (the larger of the measured page and the budget) + ${A.ioSeconds.value} s I/O = ${r2(worst)} s; x ${A.timeoutSafety.value}, whole half-minutes, at most ${LAMBDA_MAX_TIMEOUT_SECONDS} s → ${timeoutSeconds} s`,
    ],
  };
}

/** The production manifest's fast-stage model sizes. */
export const PRODUCTION_FAST_MODELS: FastModelSizes = Object.freeze(fastModelSizes());

/** The default lineup's sizing: the constructs' defaults. */
export const DEFAULT_SIZING: LineupSizing = deriveSizing();
