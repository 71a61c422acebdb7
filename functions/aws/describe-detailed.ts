import { createDetailedRuntime, readAwsConfig } from '#adapters/aws-runtime.ts';
import { detailedHandler, reportModelLoad, stageObservability } from '#adapters/lambda-handlers.ts';

/**
 * Detailed worker: SQS batch of detailed jobs → detailed description merged into each sidecar by
 * compare-and-swap, partial batch response. The normal-mode model is loaded during init.
 */
const tools = stageObservability('detailed');
const config = readAwsConfig(process.env, 'detailed');
const runtime = await createDetailedRuntime(config);
reportModelLoad(tools, {
  mode: 'normal',
  modelLoadMs: runtime.modelLoadMs,
  ocrStage: config.engine.ocrStage,
});

export const handler = detailedHandler(runtime.deps, tools);
