import { readAwsConfig } from '#adapters/aws-runtime.ts';
import { createFastHandler } from './handlers.ts';

/**
 * Fast function: S3 ObjectCreated (async invoke) → caption, colours and text in the sidecar, then
 * the detailed job. Config is read and the fast model loaded during init (top-level await), so a
 * bad deploy fails at cold start and the first image does not pay for the model load.
 */
export const handler = await createFastHandler(readAwsConfig(process.env, 'fast'));
