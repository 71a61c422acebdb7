import { createFastRuntime, readAwsConfig } from '#adapters/aws-runtime.ts';
import { fastHandler, reportModelLoad, stageObservability } from '#adapters/lambda-handlers.ts';

/**
 * Fast function: S3 ObjectCreated (async invoke) → caption, colours and text in the sidecar, then
 * the detailed job. Config is read and the fast model loaded during init (top-level await), so a
 * bad deploy fails at cold start and the first image does not pay for the model load.
 */
const tools = stageObservability('fast');
const config = readAwsConfig(process.env, 'fast');
const runtime = await createFastRuntime(config);
reportModelLoad(tools, { mode: 'fast', modelLoadMs: runtime.modelLoadMs, ocrStage: config.engine.ocrStage });

export const handler = fastHandler(runtime.deps, tools);
