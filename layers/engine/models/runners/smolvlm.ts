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
import type { EncodedImage, ModelRunner, TaskAnswer, TaskRequest } from '../runner.ts';
import { modelFolder, pretrainedOptions, type RunnerContext } from '../transformers-env.ts';
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
 * The prompt comes with each task (a question, a description request); `encode` keeps the image.
 */
export async function loadSmolVlmRunner(
  name: string,
  spec: ModelSpec,
  context: RunnerContext,
): Promise<ModelRunner> {
  const folder = modelFolder(spec, context.modelsDir);
  const [model, processor] = await Promise.all([
    AutoModelForVision2Seq.from_pretrained(
      folder,
      pretrainedOptions(spec, context),
    ) as Promise<PreTrainedModel>,
    AutoProcessor.from_pretrained(folder, {
      revision: spec.revision,
      local_files_only: true,
    }) as Promise<Processor>,
  ]);
  // A prompt's chat text is the same for every image: render it once per prompt.
  const chats = new Map<string, string>();
  const chatFor = (prompt: string): string => {
    let chat = chats.get(prompt);
    if (chat === undefined) {
      chat = processor.apply_chat_template(
        [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: prompt }] }] as never,
        {
          add_generation_prompt: true,
          ...(processor.tokenizer?.chat_template ? {} : { chat_template: SMOLVLM_CHAT_TEMPLATE }),
        },
      ) as string;
      chats.set(prompt, chat);
    }
    return chat;
  };
  const splitting = { do_image_splitting: spec.imageSplitting };

  return {
    model: name,
    architecture: 'smolvlm',
    async encode(image: RgbImage): Promise<EncodedImage> {
      return { model: name, width: image.width, height: image.height, encodeMs: 0, state: image };
    },
    async run(encoded: EncodedImage, request: TaskRequest): Promise<TaskAnswer> {
      const prompt = request.prompt?.trim();
      if (!prompt) {
        throw new ConfigError(expected('a non-empty prompt', `the prompt of ${spec.id}`, request.prompt));
      }
      const image = encoded.state as RgbImage;
      const raw = toRawImage(image);
      try {
        const chat = chatFor(prompt);
        const inputs = await processor(chat, [raw], splitting);
        const promptLength = (inputs.input_ids as Tensor).dims.at(-1) ?? 0;
        const ids = (await model.generate({ ...inputs, ...request.generation })) as Tensor;
        // generate returns prompt + answer; keep the answer only so the prompt can never leak.
        const answerIds = ids.slice(null, [promptLength, ids.dims.at(-1) ?? promptLength]);
        const [text = ''] = processor.batch_decode(answerIds, { skip_special_tokens: true });
        return { kind: 'text', text: cleanModelOutput(text, { prompt }) };
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
