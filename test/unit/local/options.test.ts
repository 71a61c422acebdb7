import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOCAL_OPTIONS, readLocalOptions } from '../../../functions/local/options.ts';

describe('npm start options', () => {
  it('defaults to loopback, the printed ports, ./inbox and the deployed queue semantics', () => {
    // Act
    const options = readLocalOptions([], {});

    // Assess
    expect(options).toMatchObject({
      host: '127.0.0.1',
      httpPort: 8080,
      s3Port: 4568,
      sqsPort: 4576,
      inboxDir: resolve('inbox'),
      dataDir: resolve('.local-data'),
      mirror: false,
      fetchModels: true,
      batchSize: 1,
      visibilityTimeoutSeconds: 540,
      maxReceiveCount: 3,
      workerProcess: false,
    });
  });

  it('takes flags over environment variables, and the shared MODELS_DIR and prefixes', () => {
    // Act
    const options = readLocalOptions(
      ['--port', '9000', '--no-inbox', '--mirror', '--no-fetch', '--models', 'm'],
      {
        LOCAL_HTTP_PORT: '7000',
        LOCAL_S3_PORT: '7001',
        MODELS_DIR: '/elsewhere',
        INPUT_PREFIX: 'uploads-in',
        SIDECAR_PREFIX: 'sidecars/',
      },
    );

    // Assess
    expect(options).toMatchObject({
      httpPort: 9000,
      s3Port: 7001,
      inboxDir: undefined,
      mirror: true,
      fetchModels: false,
      modelsDir: resolve('m'),
      inputPrefix: 'uploads-in/',
      sidecarPrefix: 'sidecars/',
    });
  });

  it('names the flag and the value when a port is wrong', () => {
    expect(() => readLocalOptions(['--s3-port', 'http'], {})).toThrow(
      'Expected a port number 0-65535 for --s3-port but received "http"',
    );
    expect(() => readLocalOptions([], { LOCAL_SQS_PORT: '70000' })).toThrow(
      'Expected a port number 0-65535 for --sqs-port but received "70000"',
    );
  });

  it('answers --help instead of starting', () => {
    expect(readLocalOptions(['--help'], {})).toBe('help');
    expect(DEFAULT_LOCAL_OPTIONS.interactive).toBe(true);
  });
});
