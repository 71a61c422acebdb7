import {
  AutoModelForVision2Seq,
  AutoProcessor,
  type PreTrainedModel,
  type Processor,
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
import { SMOLVLM_CHAT_TEMPLATE } from './smolvlm-chat.ts';

/**
 * SmolVLM / Idefics3 through its model class and processor (`pipeline('image-to-text')` loads it but
 * crashes): one user turn holding the image and the spec's prompt, rendered by the model's own chat
 * template; generate; decode only the tokens after the prompt; clean.
 *
 * Image splitting is off unless the spec asks for it: the processor's default (on) runs the vision
 * encoder once per 512 px tile plus once for the whole image, i.e. 5-17 passes instead of one.
 */
export async function loadSmolVlmRunner(spec: ModelSpec, context: RunnerContext): Promise<ImageToTextRunner> {
  const prompt = spec.prompt?.trim();
  if (!prompt) throw new ConfigError(expected('a non-empty prompt', `the prompt of ${spec.id}`, spec.prompt));
  const folder = modelFolder(spec, context.modelsDir);
  const [model, processor] = await Promise.all([
    AutoModelForVision2Seq.from_pretrained(folder, {
      dtype: transformersDtype(spec) as never,
      revision: spec.revision,
      local_files_only: true,
      device: 'cpu',
      session_options: sessionOptionsFor(threadsFor(spec, context.threads)),
    }) as Promise<PreTrainedModel>,
    AutoProcessor.from_pretrained(folder, {
      revision: spec.revision,
      local_files_only: true,
    }) as Promise<Processor>,
  ]);
  // The chat text is the same for every image: render it once.
  const chat = processor.apply_chat_template(
    [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: prompt }] }] as never,
    {
      add_generation_prompt: true,
      ...(processor.tokenizer?.chat_template ? {} : { chat_template: SMOLVLM_CHAT_TEMPLATE }),
    },
  ) as string;
  const splitting = { do_image_splitting: spec.imageSplitting };

  return {
    provenance: provenanceOf(spec),
    async describe(image: RgbImage): Promise<string> {
      const raw = toRawImage(image);
      try {
        const inputs = await processor(chat, [raw], splitting);
        const promptLength = (inputs.input_ids as Tensor).dims.at(-1) ?? 0;
        const ids = (await model.generate({ ...inputs, ...spec.generation })) as Tensor;
        // generate returns prompt + answer; keep the answer only so the prompt can never leak.
        const answerIds = ids.slice(null, [promptLength, ids.dims.at(-1) ?? promptLength]);
        const [text = ''] = processor.batch_decode(answerIds, { skip_special_tokens: true });
        return cleanModelOutput(text, { prompt });
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
