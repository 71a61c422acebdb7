import {
  AutoProcessor,
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  type PreTrainedTokenizer,
  type Processor,
  type Tensor,
} from '@huggingface/transformers';
import { ConfigError, expected, InferenceError } from '../../errors.ts';
import type { RgbImage } from '../../image/types.ts';
import { elapsedMs } from '../../timing.ts';
import type { ModelSpec } from '../manifest.ts';
import type { EncodedImage, ModelRunner, TaskAnswer, TextEmbedder } from '../runner.ts';
import {
  loadWithProcessor,
  modelFolder,
  pretrainedOptions,
  type RunnerContext,
} from '../transformers-env.ts';
import { toRawImage } from './raw-image.ts';

/** A copy scaled to unit length; a zero vector stays zero (it is similar to nothing). */
export function unitVector(values: ArrayLike<number>): Float32Array {
  const out = Float32Array.from(values);
  let sum = 0;
  for (const v of out) sum += v * v;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < out.length; i += 1) out[i] = (out[i] ?? 0) / norm;
  return out;
}

/** Row `i` of a [rows, dims] tensor. */
function rowOf(tensor: Tensor, i: number): Float32Array {
  const dims = tensor.dims[tensor.dims.length - 1] ?? 0;
  return (tensor.data as Float32Array).subarray(i * dims, (i + 1) * dims);
}

/**
 * CLIP's two towers through transformers.js: the image tower (`vision_model`, CLIP image processor →
 * `image_embeds`) is the vision pass, run once per image; `run` returns its unit-length vector.
 * The text tower (`text_model`, CLIP tokenizer → `text_embeds`) embeds queries and category prompts
 * into the same space. The text tower loads on first use: a fast stage that only embeds images never
 * opens it.
 */
export async function loadClipRunner(
  name: string,
  spec: ModelSpec,
  context: RunnerContext,
): Promise<ModelRunner & TextEmbedder> {
  const folder = modelFolder(spec, context.modelsDir);
  const options = pretrainedOptions(spec, context);
  const [vision, processor] = await loadWithProcessor(
    CLIPVisionModelWithProjection.from_pretrained(folder, options),
    AutoProcessor.from_pretrained(folder, {
      revision: spec.revision,
      local_files_only: true,
    }) as Promise<Processor>,
  );
  const imageProcessor = processor.image_processor;
  if (!imageProcessor)
    throw new ConfigError(`Model ${spec.id} has no image processor (preprocessor_config.json)`);

  let textTower: Promise<{ model: CLIPTextModelWithProjection; tokenizer: PreTrainedTokenizer }> | undefined;
  const loadTextTower = () => {
    textTower ??= (async () => {
      const [model, tokenizer] = await Promise.all([
        CLIPTextModelWithProjection.from_pretrained(folder, options),
        AutoTokenizer.from_pretrained(folder, { revision: spec.revision, local_files_only: true }),
      ]);
      return { model: model as CLIPTextModelWithProjection, tokenizer };
    })();
    // A failed load is forgotten so that the next query tries again.
    textTower.catch(() => {
      textTower = undefined;
    });
    return textTower;
  };

  return {
    model: name,
    architecture: 'clip',
    async encode(image: RgbImage): Promise<EncodedImage> {
      const raw = toRawImage(image);
      const started = performance.now();
      try {
        const { pixel_values } = await imageProcessor(raw);
        const { image_embeds } = (await vision({ pixel_values })) as { image_embeds: Tensor };
        const encodeMs = elapsedMs(started);
        return {
          model: name,
          width: image.width,
          height: image.height,
          encodeMs,
          state: unitVector(rowOf(image_embeds, 0)),
        };
      } catch (error) {
        throw new InferenceError(
          `Model ${spec.id} failed on a ${image.width}x${image.height} image: ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
    async run(encoded: EncodedImage): Promise<TaskAnswer> {
      if (encoded.model !== name) {
        throw new InferenceError(expected(`an image encoded by ${name}`, 'encoded.model', encoded.model));
      }
      return { kind: 'embedding', vector: encoded.state as Float32Array };
    },
    async embedTexts(texts: readonly string[]): Promise<Float32Array[]> {
      if (texts.length === 0) return [];
      const { model, tokenizer } = await loadTextTower();
      try {
        const inputs = tokenizer([...texts], { padding: true, truncation: true });
        const { text_embeds } = (await model(inputs)) as { text_embeds: Tensor };
        return texts.map((_, i) => unitVector(rowOf(text_embeds, i)));
      } catch (error) {
        throw new InferenceError(`Model ${spec.id} failed to embed text: ${(error as Error).message}`, {
          cause: error,
        });
      }
    },
    dispose: async () => {
      await vision.dispose();
      const loaded = await textTower?.catch(() => undefined);
      await loaded?.model.dispose();
    },
  };
}
