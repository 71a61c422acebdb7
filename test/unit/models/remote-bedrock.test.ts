import {
  AccessDeniedException,
  BedrockRuntimeClient,
  ConverseCommand,
  ResourceNotFoundException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bedrockConverseClient } from '#adapters/bedrock-converse-client.ts';
import type { DescribeEngine } from '#engine/engine.ts';
import {
  RemoteAuthError,
  RemoteImageRefusedError,
  RemoteModelNotFoundError,
  RemoteRateLimitedError,
} from '#engine/errors.ts';
import { bedrockSpecSchema } from '#engine/models/manifest.ts';
import type { ModelRunner } from '#engine/models/runner.ts';
import { createRemoteRunner } from '#engine/models/runners/remote.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { createEngine } from '#engine/wiring.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { REMOTE_PROMPT, remoteModelSet } from '#test/support/remote-model-set.ts';
import { COLOUR_RGB, failureOf, mostlyImage } from './support.ts';

const bedrock = mockClient(BedrockRuntimeClient);
afterEach(() => bedrock.reset());
afterAll(() => bedrock.restore());

/** A Converse answer as Bedrock returns it. */
const converseOutput = (text: string) => ({
  output: { message: { role: 'assistant' as const, content: [{ text }] } },
  stopReason: 'end_turn' as const,
  usage: { inputTokens: 1302, outputTokens: 14, totalTokens: 1316 },
  metrics: { latencyMs: 912 },
  $metadata: { httpStatusCode: 200 },
});

const meta = { $metadata: { httpStatusCode: 400 } };

function runnerFor(overrides: Record<string, unknown> = {}): { runner: ModelRunner; sleeps: number[] } {
  const spec = bedrockSpecSchema.parse({
    architecture: 'bedrock',
    modelId: 'amazon.nova-lite-v1:0',
    region: 'us-east-1',
    ...overrides,
  });
  const sleeps: number[] = [];
  const runner = createRemoteRunner('nova', spec, bedrockConverseClient(spec), {
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
  });
  return { runner, sleeps };
}

async function ask(runner: ModelRunner) {
  const encoded = await runner.encode(mostlyImage(COLOUR_RGB.blue, 0.8, [255, 255, 255], 1200, 900));
  return runner.run(encoded, { prompt: REMOTE_PROMPT, generation: { max_new_tokens: 200 } });
}

describe('bedrock runner (Converse API, client mocked)', () => {
  it('sends one user message with a JPEG image block and the prompt, and keeps the answer and its tokens', async () => {
    bedrock.on(ConverseCommand).resolves(converseOutput('A blue square above a white band.'));
    const { runner } = runnerFor({ imageMaxSide: 800 });

    const answer = await ask(runner);

    expect(answer).toEqual({
      kind: 'text',
      text: 'A blue square above a white band.',
      usage: { inputTokens: 1302, outputTokens: 14 },
    });
    const [call] = bedrock.commandCalls(ConverseCommand);
    const input = call?.args[0].input;
    expect(input?.modelId).toBe('amazon.nova-lite-v1:0');
    expect(input?.inferenceConfig).toEqual({ maxTokens: 200, temperature: 0 });
    const [image, text] = input?.messages?.[0]?.content ?? [];
    expect(text).toEqual({ text: REMOTE_PROMPT });
    expect(image?.image?.format).toBe('jpeg');
    const sent = await sharp(image?.image?.source?.bytes as Uint8Array).metadata();
    expect({ format: sent.format, width: sent.width, height: sent.height }).toEqual({
      format: 'jpeg',
      width: 800,
      height: 600,
    });
  });

  it('retries a ThrottlingException with backoff, then answers', async () => {
    bedrock
      .on(ConverseCommand)
      .rejectsOnce(
        new ThrottlingException({ message: 'Too many requests, please wait before trying again.', ...meta }),
      )
      .resolves(converseOutput('A blue square.'));
    const { runner, sleeps } = runnerFor();

    const answer = await ask(runner);

    expect(answer.kind === 'text' && answer.text).toBe('A blue square.');
    expect(sleeps).toEqual([500]);
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(2);
  });

  it('gives up on throttling after maxRetries: rate limited, retried later by the queue', async () => {
    bedrock.on(ConverseCommand).rejects(new ThrottlingException({ message: 'Too many requests', ...meta }));
    const { runner } = runnerFor({ maxRetries: 1 });

    const error = await failureOf(ask(runner));

    expect(error).toBeInstanceOf(RemoteRateLimitedError);
    expect(bedrock.commandCalls(ConverseCommand)).toHaveLength(2);
  });

  it.each([
    [
      'an invalid model id',
      new ValidationException({ message: 'The provided model identifier is invalid.', ...meta }),
      RemoteModelNotFoundError,
      'Bedrock has no model "amazon.nova-lite-v1:0" here',
    ],
    [
      'a model not enabled',
      new ResourceNotFoundException({ message: 'Model not found', ...meta }),
      RemoteModelNotFoundError,
      'Check "modelId" in the manifest',
    ],
    [
      'a missing IAM grant',
      new AccessDeniedException({
        message: 'You don\u2019t have access to the model with the specified model ID.',
        ...meta,
      }),
      RemoteAuthError,
      'Grant bedrock:InvokeModel',
    ],
    [
      'a refused image',
      new ValidationException({ message: 'Image exceeds max pixels allowed.', ...meta }),
      RemoteImageRefusedError,
      'Image exceeds max pixels allowed.',
    ],
  ])('%s fails at once with an error saying what to do', async (_case, thrown, kind, words) => {
    bedrock.on(ConverseCommand).rejects(thrown);
    const { runner, sleeps } = runnerFor();

    const error = await failureOf(ask(runner));

    expect(error).toBeInstanceOf(kind);
    expect(error.message).toContain(words);
    expect(sleeps).toEqual([]);
  });
});

describe('the engine with a bedrock detailed task', () => {
  let models: { dir: string; cleanup: () => Promise<void> };
  let engine: DescribeEngine;

  beforeAll(async () => {
    models = await remoteModelSet({
      architecture: 'bedrock',
      modelId: 'amazon.nova-lite-v1:0',
      region: 'us-east-1',
    });
    engine = await createEngine(readEngineSettings({ MODELS_DIR: models.dir, OCR_STAGE: 'off' }));
  });
  afterAll(async () => {
    await engine.models.dispose();
    await models.cleanup();
  });

  it("stores Bedrock's answer with provider and model in its provenance, and the guard checks it", async () => {
    bedrock.on(ConverseCommand).resolves(converseOutput('A green square fills the frame.'));

    const record = await engine.describe({
      bytes: await imageFixture('solidRed'),
      source: { kind: 'file', path: 'red.png' },
    });

    expect(record.caption).toBe('a red square');
    expect(record.detailedDescription).toBe('A green square fills the frame.');
    expect(record.models.detailed).toMatchObject({
      id: 'amazon.nova-lite-v1:0',
      architecture: 'bedrock',
      provider: 'bedrock:us-east-1',
      promptHash: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(record.checks).toContainEqual(
      expect.objectContaining({
        kind: 'colour',
        field: 'detailedDescription',
        claim: expect.stringMatching(/^green /),
        evidence: 'palette red 100%',
        verdict: 'contradicted',
      }),
    );
    expect(engine.models.tokenUsage.get('vlm')).toEqual({ inputTokens: 1302, outputTokens: 14, answers: 1 });
  });
});
