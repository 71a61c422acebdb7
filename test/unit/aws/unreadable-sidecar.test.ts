import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { readAwsConfig } from '#adapters/aws-runtime.ts';
import { keptAsideKeyFor } from '#engine/pipeline/key-layout.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { captureOutput } from '#test/support/capture-output.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { createFastHandler, type FastLambda } from '../../../functions/aws/handlers.ts';
import { runBackfillCommand } from '../../../functions/cli/backfill.ts';
import { BUCKET, fakeS3, fakeSqs, QUEUE_URL, s3Event } from './fakes.ts';

/**
 * A stored sidecar that S3 returns as bytes no description can be read from (an empty object,
 * JSON cut short, JSON of another shape): in AWS the fast stage and the backfill treat it as absent
 * (the image is described again), keep the bytes as `<sidecar>.corrupt`, say so once, and never
 * crash. S3 and SQS are aws-sdk-client-mock; the models are the known-answer fixtures.
 */
const BAD_SIDECARS: ReadonlyArray<readonly [string, string, RegExp]> = [
  ['an empty object', '', /Unexpected end of JSON input/],
  ['JSON cut short', '{broken', /JSON/],
  ['JSON of another shape', '{"schemaVersion":2,"caption":7}', /not a description record/],
  ['JSON null', 'null', /not a description record/],
  ['a JSON array', '[1,2,3]', /not a description record/],
  ['bytes that are not UTF-8', '\u0000\u00ff\u00fe binary', /JSON/],
];

/** What `.corrupt` holds: the bytes as stored, or the JSON on one line when it parsed. */
function keptBytes(body: string): string {
  try {
    return `${JSON.stringify(JSON.parse(body))}\n`;
  } catch {
    return body;
  }
}

const env = {
  BUCKET_NAME: BUCKET,
  DETAILED_QUEUE_URL: QUEUE_URL,
  MODELS_DIR: '',
  AWS_REGION: 'us-east-1',
};
let red: Buffer;
let s3: ReturnType<typeof fakeS3>;
let sqs: ReturnType<typeof fakeSqs>;

beforeAll(async () => {
  env.MODELS_DIR = fixtureModelsDir();
  red = await imageFixture('solidRed');
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});

beforeEach(() => {
  s3 = fakeS3();
  sqs = fakeSqs();
});

describe('the fast function (createFastHandler) with an unreadable stored sidecar', () => {
  let handler: FastLambda;
  let warn: MockInstance<Logger['warn']>;

  beforeAll(async () => {
    const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
    warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    handler = await createFastHandler(readAwsConfig(env, 'fast'), {
      clients: { s3: new S3Client({ region: 'us-east-1' }), sqs: new SQSClient({ region: 'us-east-1' }) },
      observability: { logger, metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }) },
    });
  });
  beforeEach(() => warn.mockClear());

  for (const [what, body, reason] of BAD_SIDECARS) {
    it(`${what}: described again, kept as .corrupt, said once, the detailed job sent`, async () => {
      // Prepare
      const etag = s3.put('images/red.png', red, 'image/png');
      s3.put('descriptions/red.png.json', body, 'application/json');
      // Act
      await handler(s3Event([{ key: 'images/red.png', etag }]));
      await handler(s3Event([{ key: 'images/red.png', etag }])); // a redelivery
      // Assess
      const record = s3.json('descriptions/red.png.json');
      expect(record?.caption).toBe('a red square');
      expect(record?.status.fast.state).toBe('done');
      const aside = keptAsideKeyFor('descriptions/red.png.json');
      expect(s3.objects.get(aside)?.body.toString('utf8')).toBe(keptBytes(body));
      // The redelivery re-sends the job while the detailed stage is pending (that heals a lost send).
      expect(new Set(sqs.sent.map((job) => job.key))).toEqual(new Set(['images/red.png']));
      const reports = warn.mock.calls.filter(([message]) => message === 'unreadable description kept aside');
      expect(reports).toHaveLength(1);
      const report = (reports[0]?.[1] ?? {}) as { reason?: string; message?: string };
      expect(report).toMatchObject({ sidecarKey: 'descriptions/red.png.json', keptAs: aside });
      expect(report.reason).toMatch(reason);
      expect(report.message).toBe(
        `The stored description descriptions/red.png.json could not be read (${report.reason}); it was kept as ${aside} and the image is described again.`,
      );
    });
  }
});

describe('npm run backfill with unreadable stored sidecars', () => {
  async function backfill(...argv: string[]) {
    const { output, stdout, stderr } = captureOutput();
    const status = await runBackfillCommand(argv, env, output);
    return { status, stdout: stdout(), stderr: stderr() };
  }

  function seed() {
    BAD_SIDECARS.forEach(([, body], index) => {
      s3.put(`images/${index}.png`, red, 'image/png');
      s3.put(`descriptions/${index}.png.json`, body, 'application/json');
    });
  }

  it('counts them as needing the fast stage in a dry run, and names each one', async () => {
    seed();

    const run = await backfill('--dry-run', '--bucket', BUCKET);

    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`would queue ${BAD_SIDECARS.length}`);
    expect(run.stdout).toContain(
      `fast stage: ${BAD_SIDECARS.length} (unreadable-record ${BAD_SIDECARS.length})`,
    );
    for (const index of BAD_SIDECARS.keys()) {
      expect(
        run.stderr.match(new RegExp(`descriptions/${index}\\.png\\.json could not be read`, 'g')) ?? [],
      ).toHaveLength(1);
    }
    // Nothing is kept aside or described in a dry run, and the line says what a real run would do.
    expect(run.stderr).toContain('a backfill without --dry-run would have the fast stage keep it as');
    expect(run.stderr).not.toContain('; the fast stage keeps it as');
  });

  it('--in-process describes each image again, keeps the bytes aside and says so once', async () => {
    seed();

    const run = await backfill('--in-process', '--bucket', BUCKET, '--queue-url', QUEUE_URL);

    expect(run.status, run.stderr).toBe(0);
    BAD_SIDECARS.forEach(([, body], index) => {
      expect(s3.json(`descriptions/${index}.png.json`)?.caption).toBe('a red square');
      expect(s3.objects.get(keptAsideKeyFor(`descriptions/${index}.png.json`))?.body.toString('utf8')).toBe(
        keptBytes(body),
      );
      expect(
        run.stderr.match(new RegExp(`descriptions/${index}\\.png\\.json could not be read`, 'g')) ?? [],
        run.stderr,
      ).toHaveLength(1);
    });
    expect(sqs.sent).toHaveLength(BAD_SIDECARS.length);
    // Run again: every caption is current now (only the detailed jobs, never run here, are sent
    // again); nothing is reported.
    const again = await backfill('--in-process', '--bucket', BUCKET, '--queue-url', QUEUE_URL);
    expect(again.stdout).toContain('fast stage: 0\n');
    expect(again.stderr).not.toContain('could not be read');
  });
});
