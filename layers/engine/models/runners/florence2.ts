import {
  AutoProcessor,
  Florence2ForConditionalGeneration,
  type Florence2Processor,
  type Tensor,
} from '@huggingface/transformers';
import { ConfigError, expected, InferenceError } from '../../errors.ts';
import type { RgbImage } from '../../image/types.ts';
import type { ModelSpec } from '../manifest.ts';
import { provenanceOf } from '../provenance.ts';
import type { ImageToTextRunner } from '../runner.ts';
import {
  modelFolder,
  type RunnerContext,
  sessionOptionsFor,
  threadsFor,
  transformersDtype,
} from '../transformers-env.ts';
import { cleanModelOutput } from './clean-output.ts';
import { toRawImage } from './raw-image.ts';

/** The Florence-2 tasks whose answer is plain text (the others return boxes or polygons). */
export const FLORENCE2_TEXT_TASKS = ['<CAPTION>', '<DETAILED_CAPTION>', '<MORE_DETAILED_CAPTION>'] as const;

/**
 * Florence-2 through its model class and processor (`pipeline('image-to-text')` rejects florence2):
 * processor(image, task) → generate → batch_decode keeping special tokens → post_process_generation
 * (which knows the task's answer format) → cleaned text.
 */
export async function loadFlorence2Runner(
  spec: ModelSpec,
  context: RunnerContext,
): Promise<ImageToTextRunner> {
  const task = spec.task ?? '';
  if (!(FLORENCE2_TEXT_TASKS as readonly string[]).includes(task)) {
    throw new ConfigError(
      expected(`one of ${FLORENCE2_TEXT_TASKS.join(', ')}`, `the task of ${spec.id}`, spec.task),
    );
  }
  const folder = modelFolder(spec, context.modelsDir);
  const [loadedModel, loadedProcessor] = await Promise.allSettled([
    Florence2ForConditionalGeneration.from_pretrained(folder, {
      dtype: transformersDtype(spec) as never,
      revision: spec.revision,
      local_files_only: true,
      device: 'cpu',
      session_options: sessionOptionsFor(threadsFor(spec, context.threads)),
    }),
    AutoProcessor.from_pretrained(folder, {
      revision: spec.revision,
      local_files_only: true,
    }) as Promise<Florence2Processor>,
  ]);
  if (loadedModel.status === 'rejected' || loadedProcessor.status === 'rejected') {
    // Do not leak the sessions that did open when the other half failed.
    if (loadedModel.status === 'fulfilled') await loadedModel.value.dispose();
    throw loadedModel.status === 'rejected'
      ? loadedModel.reason
      : (loadedProcessor as PromiseRejectedResult).reason;
  }
  const model = loadedModel.value;
  const processor = loadedProcessor.value;
  const prompt = processor.construct_prompts(task)[0];
  return {
    provenance: provenanceOf(spec),
    async describe(image: RgbImage): Promise<string> {
      const raw = toRawImage(image);
      try {
        const inputs = await processor(raw, task);
        const ids = (await model.generate({ ...inputs, ...spec.generation })) as Tensor;
        const [text = ''] = processor.batch_decode(ids, { skip_special_tokens: false });
        const answer = processor.post_process_generation(text, task, [raw.height, raw.width])[task];
        if (typeof answer !== 'string') throw new Error(`task ${task} gave no text`);
        return cleanModelOutput(answer, { prompt });
      } catch (error) {
        throw new InferenceError(
          `Model ${spec.id} failed on a ${image.width}x${image.height} image: ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
    dispose: async () => {
      await model.dispose();
    },
  };
}
