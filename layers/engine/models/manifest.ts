import { z } from 'zod';

/**
 * The model manifest, version 2: which models a model set holds (`models`, each at a pinned
 * revision with explicit dtypes) and which task each field of the record comes from (`tasks`).
 * Several tasks may name one model: it is loaded once, and for Florence-2 the tasks of one stage
 * share one vision-encoder pass per image.
 *
 * A model set is a directory holding `manifest.json` plus one folder per model id
 * (`<dir>/<org>/<name>/config.json`, `<dir>/<org>/<name>/onnx/*.onnx`), exactly the layout
 * transformers.js loads with `env.localModelPath = <dir>`.
 */
export const MANIFEST_VERSION = 2 as const;

export const architectureSchema = z.enum(['vision-encoder-decoder', 'florence2', 'smolvlm', 'clip']);

/** transformers.js dtype: one for every session, or per session name (embed_tokens, vision_encoder...). */
export const dtypeSchema = z.union([z.string().min(1), z.record(z.string().min(1), z.string().min(1))]);

export const generationOptionsSchema = z
  .object({
    max_new_tokens: z.number().int().positive().optional(),
    num_beams: z.number().int().positive().optional(),
    do_sample: z.boolean().optional(),
    repetition_penalty: z.number().positive().optional(),
    no_repeat_ngram_size: z.number().int().nonnegative().optional(),
  })
  .strict();

export const modelSpecSchema = z
  .object({
    /** Hugging Face model id, also the folder under the model directory. */
    id: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'a Hugging Face id like org/name'),
    /** Pinned commit of the model repository (40 hex), or a tag for local fixtures. */
    revision: z.string().min(1),
    architecture: architectureSchema,
    dtype: dtypeSchema,
    /** Split large images into tiles (smolvlm); off by default: one encoder pass per tile costs. */
    imageSplitting: z.boolean().default(false),
    /** onnxruntime intra-op threads; 0 = onnxruntime's default (one per core). */
    threads: z.number().int().nonnegative().default(0),
    /** Approximate download size, for progress and the docs. */
    sizeMB: z.number().positive().optional(),
    /** Files to download in models:fetch, relative to the model folder (only the chosen dtype's). */
    files: z.array(z.string().min(1)).optional(),
    /** default: `npm run models:fetch` downloads it; optional: only with --all or --model <name>. */
    fetch: z.enum(['default', 'optional']).default('default'),
  })
  .strict();

/** Limits of a remote model: every bound is explicit so that a stuck server cannot hold a worker. */
const remoteLimits = {
  /** One request's time limit (ms), answer included. */
  timeoutMs: z.number().int().positive().max(600_000).default(60_000),
  /** Retries after a 429, a 5xx or a dropped connection (with backoff; Retry-After is honoured). */
  maxRetries: z.number().int().nonnegative().max(10).default(3),
  /** Requests in flight at once: per process, and in AWS the worker's maximum concurrency (the deployment's limit). */
  concurrency: z.number().int().positive().max(64).default(2),
  /** Longest side of the JPEG sent; the image tokens (and the price) follow the pixels. */
  imageMaxSide: z.number().int().min(64).max(4096).default(1024),
  /** What the record's provenance calls this model's version (a served model can change under one name). */
  revision: z.string().min(1).default('unpinned'),
};

/**
 * A vision model behind an OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp,
 * LM Studio): the image goes as a base64 data URI in the user message.
 */
export const openAiCompatibleSpecSchema = z
  .object({
    architecture: z.literal('openai-compatible'),
    /** Base URL of the API, e.g. http://127.0.0.1:11434/v1 (the client appends /chat/completions). */
    endpoint: z.url({ protocol: /^https?$/, error: 'an http(s) base URL like http://127.0.0.1:11434/v1' }),
    /** The model name the server knows (`ollama list`, vLLM's --served-model-name). */
    model: z.string().min(1),
    /** Environment variable holding the API key, when the server wants one (in AWS: a Secrets Manager secret). */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name like VLM_API_KEY')
      .optional(),
    ...remoteLimits,
  })
  .strict();

/** A vision model on Amazon Bedrock, called through the Converse API with an image block. */
export const bedrockSpecSchema = z
  .object({
    architecture: z.literal('bedrock'),
    /** A model id or inference profile id, e.g. amazon.nova-lite-v1:0 or us.amazon.nova-lite-v1:0. */
    modelId: z.string().regex(/^[\w.:-]+$/, 'a Bedrock model id like amazon.nova-lite-v1:0'),
    /** @default the region of the process (AWS_REGION) */
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region like us-east-1')
      .optional(),
    ...remoteLimits,
  })
  .strict();

export const REMOTE_ARCHITECTURES = ['openai-compatible', 'bedrock'] as const;

/** Any model of a set: local ONNX (downloaded by models:fetch) or remote (called over the network). */
export const anyModelSpecSchema = z.discriminatedUnion('architecture', [
  modelSpecSchema,
  openAiCompatibleSpecSchema,
  bedrockSpecSchema,
]);

export const stageSchema = z.enum(['fast', 'detailed']);

export const taskSpecSchema = z
  .object({
    /** A key of `models`. */
    model: z.string().min(1),
    /** The pipeline stage that runs it: fast (S3-triggered function) or detailed (queue worker). */
    stage: stageSchema,
    /** Florence-2 task token: <CAPTION>, <DETAILED_CAPTION>, <MORE_DETAILED_CAPTION>, <OD>. */
    task: z.string().min(1).optional(),
    /** Chat prompt for instruction-tuned models (smolvlm). */
    prompt: z.string().min(1).optional(),
    generation: generationOptionsSchema.default({}),
    /**
     * Embedding task only: the cosine similarity below which an image is not listed for a query
     * (the relevance cut-off); it depends on the model, so it is set with it.
     */
    minSimilarity: z.number().min(-1).max(1).optional(),
    /**
     * Embedding task only: the length of the model's vectors (CLIP ViT-B/32: 512). A deployed stack
     * creates its S3 Vectors index with this dimension.
     */
    dimensions: z.number().int().min(1).max(4096).optional(),
  })
  .strict();

/** The relevance cut-off when the manifest's embedding task sets no minSimilarity. */
export const DEFAULT_MIN_SIMILARITY = 0.2;

/** The Florence-2 tasks whose answer is plain text. */
export const FLORENCE2_TEXT_TASKS = ['<CAPTION>', '<DETAILED_CAPTION>', '<MORE_DETAILED_CAPTION>'] as const;
/** The Florence-2 tasks whose answer is labelled boxes. */
export const FLORENCE2_OBJECT_TASKS = ['<OD>'] as const;

/** The tasks a manifest configures; caption and detailed are required, the others optional. */
export const TASK_NAMES = ['caption', 'objects', 'detailed', 'questions', 'embedding'] as const;

/** The stage each task runs in: the record's fields are written by that stage only. */
export const TASK_STAGES = {
  caption: 'fast',
  objects: 'fast',
  detailed: 'detailed',
  questions: 'detailed',
  embedding: 'fast',
} as const satisfies Record<(typeof TASK_NAMES)[number], 'fast' | 'detailed'>;

export const manifestSchema = z
  .object({
    manifestVersion: z.literal(MANIFEST_VERSION),
    /** The models of the set, by a short name the tasks refer to. */
    models: z.record(z.string().regex(/^[A-Za-z0-9][\w.-]*$/, 'a short model name'), anyModelSpecSchema),
    tasks: z
      .object({
        /** The caption (fast stage). */
        caption: taskSpecSchema,
        /** Objects with boxes and the labels list (fast stage); a Florence-2 `<OD>` task. */
        objects: taskSpecSchema.optional(),
        /** The detailed description (detailed stage). */
        detailed: taskSpecSchema,
        /** The prompt-capable model that answers configured questions (detailed stage). */
        questions: taskSpecSchema.optional(),
        /** Image and text embeddings for search by meaning (fast stage); a clip model. */
        embedding: taskSpecSchema.optional(),
      })
      .strict(),
  })
  .strict()
  .superRefine((manifest, ctx) => {
    const names = Object.keys(manifest.models);
    for (const name of TASK_NAMES) {
      const task = manifest.tasks[name];
      if (!task) continue;
      const at = ['tasks', name];
      const model = Object.hasOwn(manifest.models, task.model) ? manifest.models[task.model] : undefined;
      if (!model) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'model'],
          message: `names no model of this manifest (models: ${names.join(', ') || 'none'}); got "${task.model}"`,
        });
        continue;
      }
      if (task.stage !== TASK_STAGES[name]) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'stage'],
          message: `the ${name} task runs in the ${TASK_STAGES[name]} stage; got "${task.stage}"`,
        });
      }
      if (isRemoteSpec(model)) {
        // A caption must not wait on a network; remote models answer the detailed stage's prompts.
        if (name === 'caption' || name === 'objects') {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'model'],
            message: `remote models (${model.architecture}) serve the detailed and questions tasks; the ${name} task needs a local model`,
          });
        } else if (!task.prompt && name !== 'questions') {
          ctx.addIssue({ code: 'custom', path: at, message: `${model.architecture} tasks need a prompt` });
        }
        continue;
      }
      if (model.architecture === 'florence2') {
        const allowed: readonly string[] = name === 'objects' ? FLORENCE2_OBJECT_TASKS : FLORENCE2_TEXT_TASKS;
        if (!task.task) {
          ctx.addIssue({
            code: 'custom',
            path: at,
            message: `florence2 tasks need a task such as ${allowed[0]}`,
          });
        } else if (!allowed.includes(task.task)) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'task'],
            message: `the ${name} task of a florence2 model is one of ${allowed.join(', ')}; got "${task.task}"`,
          });
        }
      }
      // The questions task takes its prompt from each question.
      if (model.architecture === 'smolvlm' && !task.prompt && name !== 'questions') {
        ctx.addIssue({ code: 'custom', path: at, message: 'smolvlm tasks need a prompt' });
      }
      if (name === 'objects' && model.architecture !== 'florence2') {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'model'],
          message: `objects need a florence2 model (<OD>); "${task.model}" is ${model.architecture}`,
        });
      }
      if ((name === 'embedding') !== (model.architecture === 'clip')) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'model'],
          message:
            name === 'embedding'
              ? `embeddings need an image-and-text embedding model (clip); "${task.model}" is ${model.architecture}`
              : `a clip model only embeds (tasks.embedding); "${task.model}" cannot answer ${name}`,
        });
      }
      if (name !== 'embedding' && task.dimensions !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'dimensions'],
          message: 'dimensions applies to the embedding task only',
        });
      }
      if (name !== 'embedding' && task.minSimilarity !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'minSimilarity'],
          message: 'minSimilarity applies to the embedding task only',
        });
      }
      if (name === 'questions' && model.architecture !== 'smolvlm') {
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'model'],
          message: `questions need a prompt-capable model (smolvlm, openai-compatible or bedrock); "${task.model}" is ${model.architecture}`,
        });
      }
    }
  });

export function isRemoteSpec(spec: AnyModelSpec): spec is RemoteModelSpec {
  return (REMOTE_ARCHITECTURES as readonly string[]).includes(spec.architecture);
}

/** The local models of a manifest: the ones with files to fetch, check and bake into images. */
export function localModels(manifest: Pick<Manifest, 'models'>): Array<[string, ModelSpec]> {
  return Object.entries(manifest.models).filter(
    (entry): entry is [string, ModelSpec] => !isRemoteSpec(entry[1]),
  );
}

/** The describe modes of the CLI: fast = the fast stage only; normal = both stages. */
export const modeSchema = z.enum(['fast', 'normal']);

export type Architecture = z.infer<typeof architectureSchema>;
export type RemoteArchitecture = (typeof REMOTE_ARCHITECTURES)[number];
/** A local ONNX model: files under the model set directory. */
export type ModelSpec = z.infer<typeof modelSpecSchema>;
export type OpenAiCompatibleSpec = z.infer<typeof openAiCompatibleSpecSchema>;
export type BedrockSpec = z.infer<typeof bedrockSpecSchema>;
export type RemoteModelSpec = OpenAiCompatibleSpec | BedrockSpec;
export type AnyModelSpec = ModelSpec | RemoteModelSpec;
export type TaskSpec = z.infer<typeof taskSpecSchema>;
export type TaskName = (typeof TASK_NAMES)[number];
export type GenerationOptions = z.infer<typeof generationOptionsSchema>;
export type ModelMode = z.infer<typeof modeSchema>;
export type Manifest = z.infer<typeof manifestSchema>;
