import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  type AwsConfig,
  createDetailedRuntime,
  createFastRuntime,
  type RuntimeOptions,
} from '#adapters/aws-runtime.ts';
import {
  detailedHandler,
  fastHandler,
  type Observability,
  reportModelLoad,
  stageObservability,
} from '#adapters/index.ts';

/**
 * The composition root of the describe functions (the upload API's is upload-api-handler.ts): a
 * factory over explicit config and dependencies. The deployed modules (describe-fast.ts,
 * describe-detailed.ts) call it once with config read from their environment; the local stack
 * calls the same factories with its own config, clients and loggers. Nothing here reads or
 * writes `process.env`.
 */

export type FastLambda = (event: unknown, context?: Context) => Promise<void>;
export type DetailedLambda = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

export interface StageHandlerDeps extends RuntimeOptions {
  /** Logger and metrics; default: the deployed function's (stageObservability). */
  readonly observability?: Observability;
}

/** The fast function: clients, engine and the fast model once, then one handler for every event. */
export async function createFastHandler(config: AwsConfig, deps: StageHandlerDeps = {}): Promise<FastLambda> {
  const tools = deps.observability ?? stageObservability('fast');
  const runtime = await createFastRuntime(config, deps);
  reportModelLoad(tools, {
    mode: 'fast',
    modelLoadMs: runtime.modelLoadMs,
    ocrStage: config.engine.ocrStage,
  });
  return fastHandler(runtime.deps, tools);
}

/** The detailed worker: clients, engine and the detailed model once, then one batch handler. */
export async function createDetailedHandler(
  config: AwsConfig,
  deps: StageHandlerDeps = {},
): Promise<DetailedLambda> {
  const tools = deps.observability ?? stageObservability('detailed');
  const runtime = await createDetailedRuntime(config, deps);
  reportModelLoad(tools, {
    mode: 'normal',
    modelLoadMs: runtime.modelLoadMs,
    ocrStage: config.engine.ocrStage,
  });
  return detailedHandler(runtime.deps, tools);
}
