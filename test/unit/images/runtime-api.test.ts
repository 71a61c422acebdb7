import { afterEach, describe, expect, it } from 'vitest';
import { InvocationError, type RuntimeApi, startRuntimeApi } from '#test/images/runtime-api.ts';

// The loopback Runtime API `npm run test:images` drives the images with, spoken to here the way the
// runtime interface client speaks to it (plain HTTP on 127.0.0.1).
let api: RuntimeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const base = (runtime: RuntimeApi) => `http://${runtime.address}/2018-06-01/runtime`;

describe('loopback Runtime API', () => {
  it('hands a queued event to GET /next with Lambda headers and resolves the invoke with the response', async () => {
    api = await startRuntimeApi({ functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f' });
    api.startInit();
    const result = api.invoke({ Records: [1] }, 60_000);

    const next = await fetch(`${base(api)}/invocation/next`);
    const id = next.headers.get('lambda-runtime-aws-request-id') ?? '';
    expect(await next.json()).toEqual({ Records: [1] });
    expect(next.headers.get('lambda-runtime-invoked-function-arn')).toBe(
      'arn:aws:lambda:us-east-1:123456789012:function:f',
    );
    expect(Number(next.headers.get('lambda-runtime-deadline-ms'))).toBeGreaterThan(Date.now());
    await fetch(`${base(api)}/invocation/${id}/response`, {
      method: 'POST',
      body: '{"batchItemFailures":[]}',
    });

    await expect(result).resolves.toEqual({ batchItemFailures: [] });
    await expect(api.initialized).resolves.toBeGreaterThanOrEqual(0);
  });

  it('rejects the invoke with the error the function posts', async () => {
    api = await startRuntimeApi({ functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f' });
    const failed = api.invoke({}, 60_000).catch((error: unknown) => error);
    const next = await fetch(`${base(api)}/invocation/next`);
    const id = next.headers.get('lambda-runtime-aws-request-id') ?? '';
    await fetch(`${base(api)}/invocation/${id}/error`, {
      method: 'POST',
      body: JSON.stringify({ errorType: 'ModelLoadError', errorMessage: 'no model' }),
    });

    const error = await failed;
    expect(error).toBeInstanceOf(InvocationError);
    expect((error as InvocationError).message).toBe('ModelLoadError: no model');
  });

  it('records an init error', async () => {
    api = await startRuntimeApi({ functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f' });
    await fetch(`${base(api)}/init/error`, {
      method: 'POST',
      body: JSON.stringify({ errorType: 'ConfigError', errorMessage: 'Expected a model manifest' }),
    });

    await expect(api.initError).resolves.toEqual({
      errorType: 'ConfigError',
      errorMessage: 'Expected a model manifest',
    });
  });
});
