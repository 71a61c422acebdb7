import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { openAiChatClient } from '#adapters/openai-chat-client.ts';
import {
  RemoteAuthError,
  RemoteFailedError,
  RemoteImageRefusedError,
  RemoteModelNotFoundError,
  RemoteRateLimitedError,
  RemoteUnreachableError,
} from '#engine/errors.ts';
import { openAiCompatibleSpecSchema } from '#engine/models/manifest.ts';
import type { ModelRunner, TaskRequest } from '#engine/models/runner.ts';
import { createRemoteRunner } from '#engine/models/runners/remote.ts';
import {
  type ChatServer,
  imageOf,
  ollamaAnswer,
  ollamaError,
  promptOf,
  startChatServer,
  vllmAnswer,
  vllmError,
} from '#test/support/chat-completions-server.ts';
import { COLOUR_RGB, failureOf, mostlyImage } from './support.ts';

const PROMPT = 'Describe this image in detail.';
const REQUEST: TaskRequest = { prompt: PROMPT, generation: { max_new_tokens: 300 } };

let server: ChatServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function runnerFor(
  endpoint: string,
  overrides: Record<string, unknown> = {},
  options: { apiKey?: string } = {},
): { runner: ModelRunner; sleeps: number[] } {
  const spec = openAiCompatibleSpecSchema.parse({
    architecture: 'openai-compatible',
    endpoint,
    model: 'Qwen/Qwen2.5-VL-7B-Instruct',
    ...overrides,
  });
  const sleeps: number[] = [];
  const runner = createRemoteRunner('vlm', spec, openAiChatClient(spec, options), {
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
  });
  return { runner, sleeps };
}

async function ask(runner: ModelRunner, width = 1600, height = 1200) {
  const encoded = await runner.encode(mostlyImage(COLOUR_RGB.red, 0.8, [255, 255, 255], width, height));
  return runner.run(encoded, REQUEST);
}

describe('openai-compatible runner against a loopback chat-completions server', () => {
  it("stores vLLM's answer and sends the image as a JPEG data URI no longer than imageMaxSide", async () => {
    // Prepare
    server = await startChatServer([
      vllmAnswer('Qwen/Qwen2.5-VL-7B-Instruct', '  A red square\n on white. '),
    ]);
    const { runner } = runnerFor(server.endpoint, { imageMaxSide: 512 }, { apiKey: 'sk-test' });

    // Act
    const answer = await ask(runner);

    // Assess
    expect(answer).toEqual({
      kind: 'text',
      text: 'A red square on white.',
      usage: { inputTokens: 1312, outputTokens: 9 },
    });
    const [request] = server.requests;
    expect(request?.path).toBe('/v1/chat/completions');
    expect(request?.authorization).toBe('Bearer sk-test');
    expect(request?.body).toMatchObject({
      model: 'Qwen/Qwen2.5-VL-7B-Instruct',
      max_tokens: 300,
      temperature: 0,
      stream: false,
    });
    expect(promptOf(request as never)).toBe(PROMPT);
    const image = imageOf(request as never);
    expect(image.mediaType).toBe('image/jpeg');
    const sent = await sharp(image.bytes).metadata();
    expect({ format: sent.format, width: sent.width, height: sent.height }).toEqual({
      format: 'jpeg',
      width: 512,
      height: 384,
    });
    // The colour survived the trip: the top of the image sent is red.
    const { data } = await sharp(image.bytes)
      .extract({ left: 0, top: 0, width: 8, height: 8 })
      .raw()
      .toBuffer({
        resolveWithObject: true,
      });
    expect(data[0]).toBeGreaterThan(200);
    expect(data[2]).toBeLessThan(60);
  });

  it("reads Ollama's answer shape, and sends no Authorization header without a key", async () => {
    server = await startChatServer([ollamaAnswer('llava:13b', 'A red square.')]);
    const { runner } = runnerFor(server.endpoint, { model: 'llava:13b' });

    const answer = await ask(runner, 40, 30);

    expect(answer).toEqual({
      kind: 'text',
      text: 'A red square.',
      usage: { inputTokens: 782, outputTokens: 11 },
    });
    expect(server.requests[0]?.authorization).toBeUndefined();
    // Small images are not enlarged.
    expect((await sharp(imageOf(server.requests[0] as never).bytes).metadata()).width).toBe(40);
  });

  it('waits as long as a 429 Retry-After asks, then answers', async () => {
    server = await startChatServer([
      { ...ollamaError(429, 'too many requests'), headers: { 'retry-after': '2' } },
      vllmAnswer('m', 'A red square.'),
    ]);
    const { runner, sleeps } = runnerFor(server.endpoint);

    const answer = await ask(runner);

    expect(answer.kind === 'text' && answer.text).toBe('A red square.');
    expect(sleeps).toEqual([2000]);
    expect(server.requests).toHaveLength(2);
  });

  it('backs off exponentially after 5xx answers, within maxRetries', async () => {
    server = await startChatServer([
      vllmError(503, 'The server is currently overloaded', 'ServiceUnavailableError'),
      vllmError(500, 'CUDA out of memory', 'InternalServerError'),
      vllmAnswer('m', 'A red square.'),
    ]);
    const { runner, sleeps } = runnerFor(server.endpoint, { maxRetries: 2 });

    const answer = await ask(runner);

    expect(answer.kind === 'text' && answer.text).toBe('A red square.');
    expect(sleeps).toEqual([500, 1000]);
  });

  it('gives up after maxRetries with a rate-limited error the queue retries later', async () => {
    server = await startChatServer([
      ollamaError(429, 'server busy, please try again.  maximum pending requests exceeded'),
    ]);
    const { runner, sleeps } = runnerFor(server.endpoint, { maxRetries: 2 });

    const error = await failureOf(ask(runner));

    expect(error).toBeInstanceOf(RemoteRateLimitedError);
    expect(error).toMatchObject({ code: 'REMOTE_RATE_LIMITED', permanent: false });
    expect(error.message).toContain('(3 attempts)');
    expect(error.message).toContain('Lower "concurrency"');
    expect(server.requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('does not sit out a Retry-After longer than 30 s: the queue retries the image later', async () => {
    server = await startChatServer([{ ...ollamaError(429, 'quota'), headers: { 'retry-after': '120' } }]);
    const { runner, sleeps } = runnerFor(server.endpoint);

    const error = await failureOf(ask(runner));

    expect(error).toBeInstanceOf(RemoteRateLimitedError);
    expect(sleeps).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });

  it.each([
    ['Ollama', ollamaError(404, 'model "llava:13b" not found, try pulling it first')],
    ['vLLM', vllmError(404, 'The model `llava:13b` does not exist.', 'NotFoundError')],
  ])('names a model the server (%s) does not serve, without retrying', async (_server, reply) => {
    server = await startChatServer([reply]);
    const { runner } = runnerFor(server.endpoint, { model: 'llava:13b' });

    const error = await failureOf(ask(runner));

    expect(error).toBeInstanceOf(RemoteModelNotFoundError);
    expect(error).toMatchObject({ code: 'REMOTE_MODEL_NOT_FOUND', permanent: true });
    expect(error.message).toBe(
      `The server at ${server.endpoint} does not serve a model named "llava:13b". Use a name it lists (GET /v1/models, \`ollama list\`) as "model" in the manifest, or pull it (\`ollama pull llava:13b\`).`,
    );
    expect((error as RemoteModelNotFoundError).detail).toContain('HTTP 404');
    expect(server.requests).toHaveLength(1);
  });

  it('says an image was refused, with the server’s reason, and does not retry', async () => {
    server = await startChatServer([
      vllmError(400, 'At most 0 image(s) may be provided in one request.', 'BadRequestError'),
    ]);
    const { runner } = runnerFor(server.endpoint);

    const error = await failureOf(ask(runner));

    expect(error).toBeInstanceOf(RemoteImageRefusedError);
    expect(error).toMatchObject({ code: 'REMOTE_IMAGE_REFUSED', permanent: true });
    expect(error.message).toContain('At most 0 image(s) may be provided in one request.');
    expect(server.requests).toHaveLength(1);
  });

  it('says which variable the refused key came from', async () => {
    server = await startChatServer([
      { status: 401, body: { error: { message: 'Unauthorized', type: 'invalid_request_error' } } },
    ]);
    const { runner } = runnerFor(server.endpoint, { apiKeyEnv: 'VLM_API_KEY' }, { apiKey: 'wrong' });

    const error = await failureOf(ask(runner));

    expect(error).toBeInstanceOf(RemoteAuthError);
    expect(error.message).toContain('refused the API key from VLM_API_KEY');
  });

  it('turns a reply slower than timeoutMs into an unreachable error after the retries', async () => {
    server = await startChatServer([{ delayMs: 5_000, reply: vllmAnswer('m', 'too late') }]);
    const { runner, sleeps } = runnerFor(server.endpoint, { timeoutMs: 100, maxRetries: 1 });

    const error = await failureOf(ask(runner));

    expect(error).toBeInstanceOf(RemoteUnreachableError);
    expect(error).toMatchObject({ code: 'REMOTE_UNREACHABLE', permanent: false });
    expect(error.message).toContain('did not answer within 100 ms (2 attempts)');
    expect(sleeps).toHaveLength(1);
  });

  it('names the endpoint nobody listens on', async () => {
    const closed = await startChatServer([vllmAnswer('m', 'x')]);
    const endpoint = closed.endpoint;
    await closed.close();
    const { runner } = runnerFor(endpoint, { maxRetries: 0 });

    const error = await failureOf(ask(runner));

    expect(error).toBeInstanceOf(RemoteUnreachableError);
    expect(error.message).toContain(`at ${endpoint} could not be reached`);
    expect((error as RemoteUnreachableError).detail).toContain('ECONNREFUSED');
  });

  it('reports an answer that is not a chat completion', async () => {
    server = await startChatServer([{ status: 200, body: '<html>proxy login</html>' }]);
    const { runner } = runnerFor(server.endpoint, { maxRetries: 0 });

    const error = await failureOf(ask(runner));

    expect(error).toBeInstanceOf(RemoteFailedError);
    expect(error.message).toContain('not JSON');
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    server = await startChatServer([{ held: true, reply: vllmAnswer('m', 'A red square.') }]);
    const { runner } = runnerFor(server.endpoint, { concurrency: 2 });
    const encoded = await runner.encode(mostlyImage(COLOUR_RGB.red));

    const answers = Array.from({ length: 5 }, () => runner.run(encoded, REQUEST));
    // Every call has reached the server or the queue before the replies are let go.
    while (server.requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    server.release();
    const texts = await Promise.all(answers);

    expect(texts.every((answer) => answer.kind === 'text' && answer.text === 'A red square.')).toBe(true);
    expect(server.requests).toHaveLength(5);
    expect(server.maxInFlight()).toBe(2);
  });
});
