import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateRecord } from '#engine/record/record.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { captureOutput } from '#test/support/capture-output.ts';
import {
  type ChatServer,
  imageOf,
  promptOf,
  startChatServer,
  vllmAnswer,
  vllmError,
} from '#test/support/chat-completions-server.ts';
import { REMOTE_PROMPT, remoteModelSet } from '#test/support/remote-model-set.ts';
import { runCli } from '../../../functions/cli/cli.ts';

const MODEL = 'Qwen/Qwen2.5-VL-7B-Instruct';
const ANSWER = 'The image shows a blue square on a plain background.';

/**
 * The detailed stage pointed at an OpenAI-compatible server (here a loopback one shaped like vLLM):
 * `describe --mode normal` goes through the same engine, runner and guard as with a local model.
 */
describe('describe --mode normal with the detailed task on an openai-compatible server', () => {
  let workDir: string;
  let server: ChatServer;
  let reply = vllmAnswer(MODEL, ANSWER);
  let models: { dir: string; cleanup: () => Promise<void> };
  let env: Record<string, string>;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'remote-cli-'));
    server = await startChatServer(() => reply);
    models = await remoteModelSet({
      architecture: 'openai-compatible',
      endpoint: server.endpoint,
      model: MODEL,
      maxRetries: 0,
    });
    env = { MODELS_DIR: models.dir, OCR_STAGE: 'off' };
  });
  afterEach(() => {
    reply = vllmAnswer(MODEL, ANSWER);
  });
  afterAll(async () => {
    await server.close();
    await models.cleanup();
    await rm(workDir, { recursive: true, force: true });
  });

  it("stores the server's answer as the detailed description; the request carried the image; the guard flags the colour", async () => {
    // Prepare
    const path = join(workDir, 'red.png');
    await writeFile(path, await imageFixture('solidRed'));
    const { output, stdout } = captureOutput();
    const before = server.requests.length;

    // Act
    const status = await runCli(['describe', path, '--mode', 'normal', '--json'], env, output);

    // Assess: the server's answer, with where it came from
    const record = validateRecord(JSON.parse(stdout()));
    expect(status).toBe(0);
    expect(record.caption).toBe('a red square');
    expect(record.detailedDescription).toBe(ANSWER);
    expect(record.status.detailed.state).toBe('done');
    expect(record.models.detailed).toMatchObject({
      id: MODEL,
      architecture: 'openai-compatible',
      provider: server.endpoint,
      revision: 'unpinned',
    });
    // One request, for this image, with the prompt and the image itself (red pixels)
    const requests = server.requests.slice(before);
    expect(requests).toHaveLength(1);
    const request = requests[0] as (typeof requests)[number];
    expect(request.body.model).toBe(MODEL);
    expect(promptOf(request)).toBe(REMOTE_PROMPT);
    const sent = sharp(imageOf(request).bytes);
    expect((await sent.metadata()).format).toBe('jpeg');
    const { dominant } = await sent.stats();
    expect(dominant.r).toBeGreaterThan(200);
    expect(dominant.b).toBeLessThan(60);
    // The guard checks the remote answer like a local one: "blue" contradicts a red palette
    expect(record.checks).toContainEqual({
      kind: 'colour',
      field: 'detailedDescription',
      claim: expect.stringMatching(/^blue /),
      evidence: 'palette red 100%',
      verdict: 'contradicted',
    });
  });

  it('a failed remote call keeps the last good description, marked stale with the error', async () => {
    // Prepare: a folder described once while the server answered
    const folder = join(workDir, 'album');
    await mkdir(folder);
    await writeFile(join(folder, 'red.png'), await imageFixture('solidRed'));
    await runCli(['describe', folder, '--mode', 'normal'], env, captureOutput().output);
    const sidecar = join(folder, 'red.png.description.json');
    expect(validateRecord(JSON.parse(await readFile(sidecar, 'utf8'))).detailedDescription).toBe(ANSWER);

    // Act: the server now fails; the manifest's prompt changed, so the description must be redone
    reply = vllmError(503, 'The server is currently overloaded', 'ServiceUnavailableError');
    const changed = await remoteModelSet(
      { architecture: 'openai-compatible', endpoint: server.endpoint, model: MODEL, maxRetries: 0 },
      { prompt: 'Describe this photo for a blind reader.' },
    );
    const captured = captureOutput();
    try {
      await runCli(
        ['describe', folder, '--mode', 'normal'],
        { ...env, MODELS_DIR: changed.dir },
        captured.output,
      );
    } finally {
      await changed.cleanup();
    }

    // Assess
    const record = validateRecord(JSON.parse(await readFile(sidecar, 'utf8')));
    expect(record.detailedDescription).toBe(ANSWER);
    expect(record.stale?.detailedDescription).toMatchObject({ reason: 'failed: REMOTE_FAILED' });
    expect(record.status.detailed.state).toBe('failed');
    expect(record.errors.detailed).toMatchObject({ code: 'REMOTE_FAILED' });
    expect(record.errors.detailed?.message).toContain(
      `The openai-compatible model "${MODEL}" at ${server.endpoint} failed`,
    );
    expect(captured.stderr() + captured.stdout()).toContain('REMOTE_FAILED');
  });
});

describe('questions answered by an openai-compatible server', () => {
  it("asks each question with the image and parses the server's answer like a local model's", async () => {
    // Prepare: a server that answers the question and the description request differently
    const server = await startChatServer((_index, request) =>
      vllmAnswer(MODEL, promptOf(request)?.includes('outdoors') ? 'Yes.' : ANSWER),
    );
    const models = await remoteModelSet(
      { architecture: 'openai-compatible', endpoint: server.endpoint, model: MODEL },
      { questions: true },
    );
    const dir = await mkdtemp(join(tmpdir(), 'remote-questions-'));
    const path = join(dir, 'red.png');
    await writeFile(path, await imageFixture('solidRed'));
    const questions = JSON.stringify({
      questions: [{ id: 'outdoors', prompt: 'Is this photo taken outdoors?', type: 'yes-no' }],
    });
    const { output, stdout } = captureOutput();

    try {
      // Act
      const status = await runCli(
        ['describe', path, '--mode', 'normal', '--json'],
        { MODELS_DIR: models.dir, OCR_STAGE: 'off', QUESTIONS_CONFIG: questions },
        output,
      );

      // Assess
      const record = validateRecord(JSON.parse(stdout()));
      expect(status).toBe(0);
      expect(record.detailedDescription).toBe(ANSWER);
      expect(record.answers?.outdoors).toMatchObject({
        value: true,
        raw: 'Yes.',
        model: { id: MODEL, architecture: 'openai-compatible', provider: server.endpoint },
      });
      expect(
        server.requests.some((request) => promptOf(request)?.startsWith('Is this photo taken outdoors?')),
      ).toBe(true);
      expect(server.requests.every((request) => imageOf(request).mediaType === 'image/jpeg')).toBe(true);
    } finally {
      await server.close();
      await models.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('eval with a remote detailed model', () => {
  it('reports latency p50/p95 of the remote stage and the tokens the server counted', async () => {
    // Prepare: two labelled images, a server that reports its usage like vLLM
    const server = await startChatServer([
      vllmAnswer(MODEL, 'A red square.', { prompt: 1000, completion: 20 }),
    ]);
    const models = await remoteModelSet({
      architecture: 'openai-compatible',
      endpoint: server.endpoint,
      model: MODEL,
    });
    const folder = await mkdtemp(join(tmpdir(), 'remote-eval-'));
    await writeFile(join(folder, 'red.png'), await imageFixture('solidRed'));
    await writeFile(join(folder, 'blue.png'), await imageFixture('solidBlue'));
    await writeFile(
      join(folder, 'references.jsonl'),
      '{"file": "red.png", "captions": ["a red square"]}\n{"file": "blue.png", "captions": ["a blue square"]}\n',
    );
    const { output, stdout } = captureOutput();

    try {
      // Act
      const status = await runCli(
        ['eval', folder, '--json'],
        { MODELS_DIR: models.dir, OCR_STAGE: 'off' },
        output,
      );

      // Assess
      const report = JSON.parse(stdout());
      expect(status).toBe(0);
      expect(report.images).toEqual({ evaluated: 2, described: 2, failed: 0 });
      expect(report.models.detailed).toEqual([`${MODEL}@unpinned`]);
      expect(report.metrics.latencyMs['detailed.modelMs']).toMatchObject({ n: 2 });
      expect(report.metrics.latencyMs['detailed.modelMs'].p95).toBeGreaterThanOrEqual(
        report.metrics.latencyMs['detailed.modelMs'].p50,
      );
      expect(report.tokens).toEqual({
        vlm: {
          answers: 2,
          inputTokens: 2000,
          outputTokens: 40,
          perImage: { inputTokens: 1000, outputTokens: 20 },
        },
      });
    } finally {
      await server.close();
      await models.cleanup();
      await rm(folder, { recursive: true, force: true });
    }
  });
});
