import {
  AutoProcessor,
  Florence2ForConditionalGeneration,
  type Florence2Processor,
  type Tensor,
} from '@huggingface/transformers';
import { ConfigError, expected, InferenceError } from '../../errors.ts';
import type { RgbImage } from '../../image/types.ts';
import type { DetectedObject } from '../../record/schema.ts';
import { elapsedMs } from '../../timing.ts';
import { FLORENCE2_OBJECT_TASKS, FLORENCE2_TEXT_TASKS, type ModelSpec } from '../manifest.ts';
import type { EncodedImage, ModelRunner, TaskAnswer, TaskRequest } from '../runner.ts';
import {
  loadWithProcessor,
  modelFolder,
  pretrainedOptions,
  type RunnerContext,
} from '../transformers-env.ts';
import { cleanModelOutput } from './clean-output.ts';
import { toRawImage } from './raw-image.ts';

export { FLORENCE2_OBJECT_TASKS, FLORENCE2_TEXT_TASKS };

const SUPPORTED: readonly string[] = [...FLORENCE2_TEXT_TASKS, ...FLORENCE2_OBJECT_TASKS];

/** Checks a task before any model is loaded, with the message the manifest author needs. */
export function checkFlorence2Task(task: string | undefined, where: string): string {
  if (!task || !SUPPORTED.includes(task))
    throw new ConfigError(expected(`one of ${SUPPORTED.join(', ')}`, where, task));
  return task;
}

interface Prompt {
  readonly text: string;
  readonly inputIds: Tensor;
  readonly attentionMask: Tensor;
}

/** Fractions in [0, 1], to 4 decimals (a 1000-bin location token is worth 3). */
const fraction = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 1e4) / 1e4;

/**
 * `<OD>` boxes from post_process_generation, which maps each 1000-bin location token to
 * `(bin + 0.5) / 1000 × size`: given a size of 1 × 1 it yields fractions directly (and does not
 * depend on which of width and height the library reads first).
 */
function objectsOf(answer: unknown): DetectedObject[] {
  const { labels = [], bboxes = [] } = (answer ?? {}) as { labels?: string[]; bboxes?: number[][] };
  const objects: DetectedObject[] = [];
  bboxes.forEach((box, i) => {
    const label = cleanModelOutput(labels[i] ?? '');
    const [x1 = 0, y1 = 0, x2 = 0, y2 = 0] = box.map(fraction);
    // A box without area or a label says nothing to search for.
    if (!label || x2 <= x1 || y2 <= y1) return;
    objects.push({ label, box: { x: x1, y: y1, width: fraction(x2 - x1), height: fraction(y2 - y1) } });
  });
  return objects;
}

/**
 * Florence-2 through its model class and processor (`pipeline('image-to-text')` rejects florence2),
 * with the vision pass split from the decoding so that one image's features answer several tasks:
 * - encode: image processor → `encode_image` (the vision_encoder session, ~90% of a caption's time);
 * - run: task prompt → `encode_text` → `_merge_input_ids_with_image_features` (image features
 *   followed by the prompt embeddings, as the model's own forward does) → `generate` from
 *   `inputs_embeds`, which skips the model's own image encoding → decode keeping special tokens →
 *   `post_process_generation` (which knows each task's answer format).
 */
export async function loadFlorence2Runner(
  name: string,
  spec: ModelSpec,
  context: RunnerContext,
): Promise<ModelRunner> {
  const folder = modelFolder(spec, context.modelsDir);
  const [loaded, processor] = await loadWithProcessor(
    Florence2ForConditionalGeneration.from_pretrained(folder, pretrainedOptions(spec, context)),
    AutoProcessor.from_pretrained(folder, {
      revision: spec.revision,
      local_files_only: true,
    }) as Promise<Florence2Processor>,
  );
  // from_pretrained is typed as the base class; the instance is the Florence-2 class.
  const model = loaded as Florence2ForConditionalGeneration;
  const imageProcessor = processor.image_processor;
  if (!imageProcessor)
    throw new ConfigError(`Model ${spec.id} has no image processor (preprocessor_config.json)`);

  // A task's prompt is the same for every image: tokenize it once.
  const prompts = new Map<string, Prompt>();
  const promptFor = (task: string): Prompt => {
    const known = prompts.get(task);
    if (known) return known;
    const text = processor.construct_prompts(task)[0] ?? task;
    const tokenizer = processor.tokenizer;
    if (!tokenizer) throw new ConfigError(`Model ${spec.id} has no tokenizer (tokenizer.json)`);
    const { input_ids, attention_mask } = tokenizer([text]) as { input_ids: Tensor; attention_mask: Tensor };
    const prompt = { text, inputIds: input_ids, attentionMask: attention_mask };
    prompts.set(task, prompt);
    return prompt;
  };
  const failure = (width: number, height: number, error: unknown) =>
    new InferenceError(`Model ${spec.id} failed on a ${width}x${height} image: ${(error as Error).message}`, {
      cause: error,
    });

  return {
    model: name,
    architecture: 'florence2',
    async encode(image: RgbImage): Promise<EncodedImage> {
      const raw = toRawImage(image);
      const started = performance.now();
      try {
        const { pixel_values } = await imageProcessor(raw);
        const features = (await model.encode_image({ pixel_values })) as Tensor;
        const encodeMs = elapsedMs(started);
        return { model: name, width: image.width, height: image.height, encodeMs, state: features };
      } catch (error) {
        throw failure(image.width, image.height, error);
      }
    },
    async run(encoded: EncodedImage, request: TaskRequest): Promise<TaskAnswer> {
      if (encoded.model !== name) {
        throw new InferenceError(expected(`an image encoded by ${name}`, 'encoded.model', encoded.model));
      }
      const task = checkFlorence2Task(request.task, `the task of ${spec.id}`);
      try {
        const prompt = promptFor(task);
        const textFeatures = (await model.encode_text({ input_ids: prompt.inputIds })) as Tensor;
        const inputs = model._merge_input_ids_with_image_features({
          inputs_embeds: textFeatures,
          image_features: encoded.state as Tensor,
          input_ids: prompt.inputIds,
          attention_mask: prompt.attentionMask,
        });
        const ids = (await model.generate({ ...inputs, ...request.generation } as never)) as Tensor;
        const [text = ''] = processor.batch_decode(ids, { skip_special_tokens: false });
        const answer = processor.post_process_generation(text, task, [1, 1])[task];
        if ((FLORENCE2_OBJECT_TASKS as readonly string[]).includes(task)) {
          return { kind: 'objects', objects: objectsOf(answer) };
        }
        if (typeof answer !== 'string') throw new Error(`task ${task} gave no text`);
        return { kind: 'text', text: cleanModelOutput(answer, { prompt: prompt.text }) };
      } catch (error) {
        throw failure(encoded.width, encoded.height, error);
      }
    },
    dispose: async () => {
      await model.dispose();
    },
  };
}
