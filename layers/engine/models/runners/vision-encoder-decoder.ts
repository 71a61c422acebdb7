import { pipeline } from '@huggingface/transformers';
import { InferenceError } from '../../errors.ts';
import type { RgbImage } from '../../image/types.ts';
import type { ModelSpec } from '../manifest.ts';
import type { EncodedImage, ModelRunner, TaskAnswer, TaskRequest } from '../runner.ts';
import { modelFolder, pretrainedOptions, type RunnerContext } from '../transformers-env.ts';
import { cleanModelOutput } from './clean-output.ts';
import { toRawImage } from './raw-image.ts';

/**
 * ViT + GPT-2 style captioners (`vision-encoder-decoder`) through `pipeline('image-to-text')`. The
 * pipeline encodes inside each call, so `encode` only keeps the image and each task pays its pass.
 */
export async function loadVisionEncoderDecoderRunner(
  name: string,
  spec: ModelSpec,
  context: RunnerContext,
): Promise<ModelRunner> {
  const captioner = await pipeline(
    'image-to-text',
    modelFolder(spec, context.modelsDir),
    pretrainedOptions(spec, context),
  );
  return {
    model: name,
    architecture: 'vision-encoder-decoder',
    async encode(image: RgbImage): Promise<EncodedImage> {
      return { model: name, width: image.width, height: image.height, encodeMs: 0, state: image };
    },
    async run(encoded: EncodedImage, request: TaskRequest): Promise<TaskAnswer> {
      const image = encoded.state as RgbImage;
      const raw = toRawImage(image);
      try {
        const output = await captioner(raw, { ...request.generation });
        const first = Array.isArray(output) ? output[0] : output;
        const text = first && 'generated_text' in first ? first.generated_text : undefined;
        if (typeof text !== 'string') throw new Error('the pipeline returned no generated_text');
        return { kind: 'text', text: cleanModelOutput(text) };
      } catch (error) {
        throw new InferenceError(
          `Model ${spec.id} failed on a ${image.width}x${image.height} image: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    },
    dispose: () => captioner.dispose(),
  };
}
