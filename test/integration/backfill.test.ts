import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDetailedRuntime, readAwsConfig } from '#adapters/aws-runtime.ts';
import { detailedHandler } from '#adapters/lambda-handlers.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { captureOutput } from '#test/support/capture-output.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { countVisionPasses } from '#test/support/vision-passes.ts';
import { runBackfillCommand } from '../../functions/cli/backfill.ts';
import { BACKENDS, type IntegrationStack } from './support/backends.ts';
import { pollOnce, receive } from './support/lambda-sqs.ts';

/**
 * `npm run backfill` on each integration backend (support/backends.ts): images uploaded before the stack existed get their fast
 * stage (in-process here; `--fast-function` in AWS) and, through it, their detailed job; once the
 * worker is done everything is up to date; after a model upgrade (another revision in the
 * manifest) the same check picks out what to re-describe.
 */
describe.each(BACKENDS)('npm run backfill on $name', (backend) => {
  let stack: IntegrationStack;
  let env: Record<string, string | undefined>;
  let worker: (event: SQSEvent) => Promise<SQSBatchResponse>;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    if (backend.unavailable) return;
    stack = await backend.start('describer-backfill');
    env = { ...process.env, ...stack.env, MODELS_DIR: fixtureModelsDir() };
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    // The adapters take credentials from the process environment (s3rver checks the key id).
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const) {
      saved[name] = process.env[name];
      process.env[name] = stack.env[name];
    }
    const runtime = await createDetailedRuntime(readAwsConfig(env, 'detailed'));
    worker = detailedHandler(runtime.deps, {
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'Test', serviceName: 'test' }),
    });
  });

  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await stack?.stop();
  });

  async function backfill(...argv: string[]) {
    const { output, stdout, stderr } = captureOutput();
    const status = await runBackfillCommand(argv, env, output);
    return { status, stdout: stdout(), stderr: stderr() };
  }

  async function sidecar(key: string): Promise<DescriptionRecord | undefined> {
    try {
      const out = await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
      return JSON.parse((await out.Body?.transformToString()) ?? '') as DescriptionRecord;
    } catch {
      return undefined;
    }
  }

  async function drainDetailedQueue(): Promise<void> {
    while ((await pollOnce(stack.sqs, stack.detailed.url, stack.detailed.arn, worker)).messages.length > 0) {}
  }

  describe.skipIf(backend.unavailable)('backfill', () => {
    it('counts in a dry run, describes what is missing, then finds nothing to do', async () => {
      // Prepare: two images and no sidecars
      for (const [key, fixture] of [
        ['images/old/red.png', 'solidRed'],
        ['images/old/blue.png', 'solidBlue'],
      ] as const) {
        await stack.s3.send(
          new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: await imageFixture(fixture) }),
        );
      }

      // Act + Assess: dry run counts, sends and writes nothing
      expect(await backfill('--dry-run')).toMatchObject({
        status: 0,
        stdout: [
          'Scanned 2 objects under s3://describer-backfill/images/: 0 up to date, would queue 2 (dry run: nothing sent)',
          '  fast stage: 2 (missing 2)',
          '  detailed queue: 0',
          '',
        ].join('\n'),
      });
      expect(await sidecar('descriptions/old/red.png.json')).toBeUndefined();
      expect(await receive(stack.sqs, stack.detailed.url, 0)).toHaveLength(0);

      // Act + Assess: the real run writes the captions; the fast stage queued the detailed jobs
      const run = await backfill('--in-process');
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(': 0 up to date, queued 2\n');
      expect((await sidecar('descriptions/old/red.png.json'))?.caption).toBe('a red square');
      expect((await sidecar('descriptions/old/blue.png.json'))?.caption).toBe('a blue square');
      await drainDetailedQueue();
      expect((await sidecar('descriptions/old/blue.png.json'))?.detailedDescription).toBe(
        'the image shows a blue square',
      );

      // Act + Assess: nothing left
      expect((await backfill('--in-process')).stdout).toContain(': 2 up to date, queued 0\n');
    });

    it('after a detailed-model upgrade, queues detailed jobs only (no model loads for the fast stage)', async () => {
      // Prepare: the same model set with new generation options for the detailed task only
      const upgraded = join(process.cwd(), 'test-output', `models-upgraded-${process.pid}`);
      await mkdir(upgraded, { recursive: true });
      const manifest = JSON.parse(await readFile(join(fixtureModelsDir(), 'manifest.json'), 'utf8'));
      manifest.tasks.detailed.generation = { max_new_tokens: 12 };
      await writeFile(join(upgraded, 'manifest.json'), JSON.stringify(manifest));

      // Act
      const run = await backfill('--in-process', '--models', upgraded);

      // Assess
      expect(run.stdout).toContain('  fast stage: 0\n  detailed queue: 2 (detailed-model-changed 2)\n');
      const jobs = await receive(stack.sqs, stack.detailed.url);
      expect(jobs.map((job) => JSON.parse(job.Body ?? '').key).sort()).toEqual([
        'images/old/blue.png',
        'images/old/red.png',
      ]);
    });

    it('after a change of the category list, queues re-scoring jobs for the detailed worker only', async () => {
      // Prepare: the default categories plus one scored by a prompt
      const file = join(process.cwd(), 'test-output', `categories-${process.pid}.json`);
      const defaults = JSON.parse(await readFile(join(process.cwd(), 'config', 'questions.json'), 'utf8'));
      const red = { id: 'red-things', label: 'Red things', prompts: ['crimson'] };
      await writeFile(file, JSON.stringify({ ...defaults, categories: [...defaults.categories, red] }));

      // Act
      const run = await backfill('--dry-run', '--questions', file).finally(() => rm(file, { force: true }));

      // Assess
      expect(run.stdout).toContain('  fast stage: 0\n  detailed queue: 2 (categories-changed 2)\n');
    });

    it('gives records from before embeddings their vector without running the captioner', async () => {
      // Prepare: the blue sidecar as it was before embeddings (no vector; no sha256, which is optional)
      const key = 'descriptions/old/blue.png.json';
      const finished = (await sidecar(key)) as DescriptionRecord;
      const { embedding: _vector, ...rest } = finished;
      const { embedding: _model, ...models } = rest.models;
      const { sha256: _hash, ...source } = rest.source;
      await stack.s3.send(
        new PutObjectCommand({
          Bucket: stack.bucket,
          Key: key,
          Body: JSON.stringify({ ...rest, source, models }),
        }),
      );
      const passes = countVisionPasses();

      // Act
      const run = await backfill('--in-process').finally(() => vi.restoreAllMocks());

      // Assess: one vision pass, CLIP's (Florence-2 for caption and objects would be a second)
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain('  fast stage: 1 (embedding-stale 1)\n');
      expect(passes.count).toBe(1);
      const now = (await sidecar(key)) as DescriptionRecord;
      expect(now.embedding).toEqual(finished.embedding);
      expect(now.models.embedding).toEqual(finished.models.embedding);
      expect(now.status.fast.state).toBe('done');
      expect(now.caption).toBe(finished.caption);
      expect(now.objects).toEqual(finished.objects);
      expect(now.detailedDescription).toBe(finished.detailedDescription);
      expect(now.status.detailed.state).toBe('done');
    });
  });
});
