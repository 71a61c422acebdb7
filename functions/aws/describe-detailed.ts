import { readAwsConfig } from '#adapters/aws-runtime.ts';
import { createDetailedHandler } from './handlers.ts';

/**
 * Detailed worker: SQS batch of detailed jobs → detailed description merged into each sidecar by
 * compare-and-swap, partial batch response. The normal-mode model is loaded during init.
 */
export const handler = await createDetailedHandler(readAwsConfig(process.env, 'detailed'));
