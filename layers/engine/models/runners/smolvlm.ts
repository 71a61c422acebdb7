import type { ModelSpec } from '../manifest.ts';
import type { ImageToTextRunner } from '../runner.ts';

/** SmolVLM / Idefics3 runner: model class + AutoProcessor with the chat template (implementation follows). */
export async function loadSmolVlmRunner(
  spec: ModelSpec,
  context: { modelsDir: string; threads: number },
): Promise<ImageToTextRunner> {
  throw new Error(`smolvlm runner not implemented yet for ${spec.id} in ${context.modelsDir}`);
}
