import { z } from 'zod';

/**
 * The model manifest: which model each mode runs, at which pinned revision, with which dtype and
 * task/prompt. A model set is a directory holding `manifest.json` plus one folder per model id
 * (`<dir>/<org>/<name>/config.json`, `<dir>/<org>/<name>/onnx/*.onnx`), exactly the layout
 * transformers.js loads with `env.localModelPath = <dir>`.
 */
export const architectureSchema = z.enum(['vision-encoder-decoder', 'florence2', 'smolvlm']);

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
    /** Florence-2 task token, e.g. <CAPTION>, <DETAILED_CAPTION>, <MORE_DETAILED_CAPTION>. */
    task: z.string().optional(),
    /** Chat prompt for instruction-tuned models (smolvlm). */
    prompt: z.string().optional(),
    generation: generationOptionsSchema.default({}),
    /** Split large images into tiles (smolvlm); off by default: one encoder pass per tile costs. */
    imageSplitting: z.boolean().default(false),
    /** onnxruntime intra-op threads; 0 = onnxruntime's default (one per core). */
    threads: z.number().int().nonnegative().default(0),
    /** Approximate download size, for progress and the README. */
    sizeMB: z.number().positive().optional(),
    /** Files to download in models:fetch, relative to the model folder (only the chosen dtype's). */
    files: z.array(z.string().min(1)).optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.architecture === 'florence2' && !spec.task) {
      ctx.addIssue({ code: 'custom', message: 'florence2 models need a task such as <CAPTION>' });
    }
    if (spec.architecture === 'smolvlm' && !spec.prompt) {
      ctx.addIssue({ code: 'custom', message: 'smolvlm models need a prompt' });
    }
  });

export const modeSchema = z.enum(['fast', 'normal']);

export const manifestSchema = z
  .object({
    manifestVersion: z.literal(1),
    /** fast: the caption in the fast stage; normal: the detailed description. */
    modes: z.object({ fast: modelSpecSchema, normal: modelSpecSchema }).strict(),
    /** Further named models (alternatives, fixtures of other architectures). */
    extra: z.record(z.string(), modelSpecSchema).default({}),
  })
  .strict();

export type Architecture = z.infer<typeof architectureSchema>;
export type ModelSpec = z.infer<typeof modelSpecSchema>;
export type ModelMode = z.infer<typeof modeSchema>;
export type Manifest = z.infer<typeof manifestSchema>;
