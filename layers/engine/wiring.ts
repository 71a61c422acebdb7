import { remoteClients } from '../adapters/remote-clients.ts';
import { DescribeEngine } from './engine.ts';
import { ModelRegistry } from './models/registry.ts';
import type { SecretLookup } from './models/remote-client.ts';
import { createTextReader } from './ocr/text-reader.ts';
import { checkCategoryPromptsModel, checkQuestionsModel } from './questions/stage.ts';
import type { EngineSettings } from './settings.ts';

/**
 * Builds the engine once per process: the model registry (models load lazily on first use, or
 * eagerly with `preload`; remote models get the HTTP and Bedrock adapters) and the OCR reader when a
 * stage needs it. Every entry point (Lambda handlers, CLI, local stack) calls this once at start-up
 * and shares the result.
 */
export async function createEngine(
  settings: EngineSettings,
  options: {
    /** preload: the stages whose models load now (Lambda init) instead of on first use. */
    preload?: ReadonlyArray<'fast' | 'detailed'>;
    /** API keys of remote models by variable name. @default process.env (AWS: the secret's value) */
    secret?: SecretLookup;
    /** Warm the OCR reader up at start (see TextReaderOptions.warmUp). @default true */
    warmUpOcr?: boolean;
  } = {},
): Promise<DescribeEngine> {
  const models = await ModelRegistry.open({
    modelsDir: settings.modelsDir,
    threads: settings.threads,
    remote: { clients: remoteClients, ...(options.secret ? { secret: options.secret } : {}) },
  });
  // Questions without a questions model in the manifest fail here, not on the first image.
  checkQuestionsModel(models, settings.questions);
  checkCategoryPromptsModel(models, settings.questions);
  const textReader =
    settings.ocrStage === 'off'
      ? undefined
      : await createTextReader({ threads: settings.threads, warmUp: options.warmUpOcr ?? true });
  for (const stage of options.preload ?? []) await models.preload(stage);
  return new DescribeEngine({ settings, models, textReader });
}
