import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { ModelRegistry } from '#engine/models/registry.ts';
import { readEngineSettings } from '#engine/settings.ts';
import type { LocalHandlers } from './stack.ts';

/**
 * The Lambda handlers themselves, imported after the stack has set the environment they read at
 * module load (bucket, prefixes, queue URL, endpoints). Each is the exact module infra/ deploys.
 */
export async function loadHandlers(): Promise<LocalHandlers> {
  const { lambdaContext } = await import('./stack.ts');
  const [fast, detailed, api, adapter] = await Promise.all([
    import('../aws/describe-fast.ts'),
    import('../aws/describe-detailed.ts'),
    import('../aws/upload-api.ts'),
    import('./http-api-adapter.ts'),
  ]);
  const settings = readEngineSettings();
  const store = new S3ObjectStore({
    bucket: process.env.BUCKET_NAME ?? '',
    endpoint: process.env.AWS_ENDPOINT_URL_S3,
  });
  return {
    describeFast: (event) => fast.handler(event, lambdaContext('describe-fast')),
    describeDetailed: (event) => detailed.handler(event, lambdaContext('describe-detailed')),
    uploadApi: adapter.toNodeHandler(api.handler, {
      routes: ['POST /uploads', 'GET /uploads/{id}'],
      functionName: 'upload-api',
    }),
    store,
    currentModels: async () => {
      const registry = await ModelRegistry.open({ modelsDir: settings.modelsDir, threads: settings.threads });
      return { caption: registry.provenance('fast'), detailed: registry.provenance('normal') };
    },
    modelsReady: async () => {
      try {
        const registry = await ModelRegistry.open({
          modelsDir: settings.modelsDir,
          threads: settings.threads,
        });
        return registry.missingModels().every((m) => m.mode !== 'fast' && m.mode !== 'normal');
      } catch {
        return false;
      }
    },
  };
}
