import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { S3UploadSigner } from '#adapters/s3-upload-signer.ts';
import { createUploadApiHandler } from '#engine/uploads/http-api.ts';
import { uploadSettings } from '#engine/uploads/settings.ts';
import { apiEvent, MemoryObjectStore, postUploadsEvent } from './support.ts';

// The deployed API logs through Powertools, which drops its reserved keys (message, level, ...) from
// the data object with a warning: these run the real Logger and read the JSON lines it writes.
function apiWithPowertools() {
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  const lines: Record<string, unknown>[] = [];
  for (const method of ['info', 'warn', 'error'] as const) {
    vi.spyOn(console, method).mockImplementation((line: string) => {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    });
  }
  const client = new S3Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
  });
  const handler = createUploadApiHandler({
    settings: uploadSettings({ bucket: 'describer-bucket', maxBytes: 1000 }),
    store: new MemoryObjectStore(),
    signer: new S3UploadSigner({ bucket: 'describer-bucket', client }),
    logger: new Logger({ serviceName: 'upload-api' }),
    search: () => Promise.reject(new Error('a rejected query never reaches the engine')),
  });
  return { handler, lines };
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('rejected requests in the Powertools log', () => {
  it.each([
    [
      'an invalid upload request',
      postUploadsEvent({ filename: 'a.png', contentType: 'text/plain', size: 5 }),
      {
        message: 'upload request rejected',
        code: 'INVALID_REQUEST',
        reason: expect.stringContaining('text/plain'),
      },
    ],
    [
      'an invalid search',
      {
        ...apiEvent({ routeKey: 'GET /search', method: 'GET', rawPath: '/search' }),
        rawQueryString: 'limit=lots',
      },
      { message: 'search rejected', parameter: 'limit', reason: expect.stringContaining('lots') },
    ],
  ])('%s is logged with its reason and no reserved-key warning', async (_name, event, logged) => {
    const { handler, lines } = apiWithPowertools();

    const result = await handler(event);

    expect(result.statusCode).toBe(400);
    expect(lines).toEqual([expect.objectContaining({ level: 'INFO', ...logged })]);
  });
});
