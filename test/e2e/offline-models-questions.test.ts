import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { sidecarWhen as waitForSidecar } from '#test/support/sidecar-when.ts';
import { type LocalStack, type StackEvent, startLocalStack } from '../../functions/local/stack.ts';
import { imageFixture } from '../fixtures/images.ts';
import { testStackOptions } from '../support/local-stack-options.ts';

/**
 * The questions model is fetched apart from the others (it is optional in the manifest): the stack
 * runs with the caption/detailed model but not the questions model, so both stages finish and the
 * answers wait (MODEL_NOT_FOUND). Once the questions model appears, the stack asks them by itself,
 * without a restart — and it does not re-scan before then.
 */
let dir: string;
let stack: LocalStack;
let store: S3ObjectStore;
const events: StackEvent[] = [];
// The known-answer set from test/global-setup.ts.
const FIXTURE_MODELS = process.env.MODELS_DIR as string;
const RECHECK_MS = 200;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-offline-questions-'));
  const modelsDir = join(dir, 'models');
  await mkdir(join(modelsDir, 'fixtures'), { recursive: true });
  // The manifest and the caption/objects/detailed model; not the questions model (smolvlm).
  await cp(join(FIXTURE_MODELS, 'manifest.json'), join(modelsDir, 'manifest.json'));
  await cp(join(FIXTURE_MODELS, 'fixtures/florence2-colour'), join(modelsDir, 'fixtures/florence2-colour'), {
    recursive: true,
  });
  const questionsFile = join(dir, 'questions.json');
  await writeFile(
    questionsFile,
    JSON.stringify({ questions: [{ id: 'colour', prompt: 'What colour is it?', type: 'text' }] }),
  );
  stack = await startLocalStack(
    testStackOptions(join(dir, 'data'), { modelsDir, questionsFile, modelRecheckMs: RECHECK_MS }),
    { onEvent: (event) => events.push(event) },
  );
  store = new S3ObjectStore({ bucket: stack.bucket, client: stack.s3 });
});

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The sidecar once `done` holds (failing with its status and answers when it never does). */
const sidecarWhen = (key: string, done: (record: DescriptionRecord) => boolean) =>
  waitForSidecar(store, key, done, { show: (r) => ({ status: r?.status, answers: r?.answers }) });

describe('local stack without the questions model', () => {
  it('answers the questions once the questions model appears, without a restart', async () => {
    // Prepare: an image, described by both stages while its answer waits
    const key = 'descriptions/red.png.json';
    await stack.s3.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: 'images/red.png',
        Body: await imageFixture('solidRed'),
        ContentType: 'image/png',
      }),
    );
    const waiting = await sidecarWhen(
      key,
      (r) => r.status.detailed.state === 'done' && r.answers?.colour !== undefined,
    );
    expect(waiting.caption).toBe('a red square');
    expect(waiting.answers?.colour?.error?.code).toBe('MODEL_NOT_FOUND');
    // Several checks later: the questions model is still missing, so nothing is re-scanned.
    await new Promise((resolve) => setTimeout(resolve, RECHECK_MS * 5));
    expect(events.filter((e) => e.type === 'models-ready')).toEqual([]);

    // Act: the questions model arrives (as `npm run models:fetch -- --all` would put it)
    await cp(
      join(FIXTURE_MODELS, 'fixtures/smolvlm-colour'),
      join(dir, 'models', 'fixtures/smolvlm-colour'),
      { recursive: true },
    );

    // Assess: the answer, from the same stack
    const answered = await sidecarWhen(key, (r) => r.answers?.colour?.value !== undefined);
    expect(answered.answers?.colour?.value).toBe('red');
    expect(answered.answers?.colour?.error).toBeUndefined();
    expect(answered.caption).toBe('a red square');
    expect(events.some((e) => e.type === 'models-ready')).toBe(true);
  });
});
