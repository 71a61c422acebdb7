import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fastHandler } from '#adapters/lambda-handlers.ts';
import { BUCKET, captureJsonLines, fakeEngine, fakeS3, fakeSqs, layout, MODELS, s3Event } from './fakes.ts';

describe('fast handler logs and metrics', () => {
  let output: ReturnType<typeof captureJsonLines>;
  beforeEach(() => {
    delete process.env.POWERTOOLS_METRICS_DISABLED;
    output = captureJsonLines();
  });
  afterEach(() => output.restore());

  it('puts the object key on every log line, and counts failures by error code (EMF)', async () => {
    // Prepare
    const s3 = fakeS3();
    const sqs = fakeSqs();
    const logger = new Logger({ serviceName: 'image-describer', logLevel: 'INFO' });
    const metrics = new Metrics({ namespace: 'ImageDescriber', serviceName: 'describe-fast' });
    const handler = fastHandler(
      {
        engine: fakeEngine(),
        store: s3.store,
        queue: sqs.queue,
        layout,
        models: MODELS,
        bucket: BUCKET,
      },
      { logger, metrics },
    );
    const red = s3.put('images/cat.jpg', 'red');
    const corrupt = s3.put('images/broken.jpg', 'corrupt');

    // Act
    await handler(
      s3Event([
        { key: 'images/cat.jpg', etag: red },
        { key: 'images/broken.jpg', etag: corrupt },
      ]),
    );

    // Assess
    const logs = output.lines.filter((line) => 'message' in line);
    expect(logs.map((line) => [line.message, line.key])).toEqual([
      ['caption written', 'images/cat.jpg'],
      ['fast stage failed', 'images/broken.jpg'],
    ]);
    expect(logs[0]).toMatchObject({ caption: 'a red square', sidecarKey: 'descriptions/cat.jpg.json' });
    const emf = output.lines.filter((line) => '_aws' in line);
    expect(emf).toContainEqual(
      expect.objectContaining({ Stage: 'fast', ErrorCode: 'CORRUPT_IMAGE', Failures: 1 }),
    );
    expect(emf).toContainEqual(expect.objectContaining({ ImagesDescribed: 1 }));
  });
});
