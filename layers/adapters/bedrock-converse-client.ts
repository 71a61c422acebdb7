import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import type { BedrockSpec } from '#engine/models/manifest.ts';
import {
  RemoteCallError,
  type RemoteFailure,
  type RemoteVisionAnswer,
  type RemoteVisionClient,
  type RemoteVisionRequest,
} from '#engine/models/remote-client.ts';

/**
 * Amazon Bedrock's Converse API: one user message with an image block (JPEG bytes) and the prompt.
 * The SDK's own retries are off (maxAttempts 1) so that the runner's bounded policy is the only one.
 */
export function bedrockConverseClient(
  spec: BedrockSpec,
  options: { client?: BedrockRuntimeClient } = {},
): RemoteVisionClient {
  const client =
    options.client ??
    new BedrockRuntimeClient({ maxAttempts: 1, ...(spec.region ? { region: spec.region } : {}) });
  return {
    async ask(request: RemoteVisionRequest): Promise<RemoteVisionAnswer> {
      let output: ConverseCommandOutput;
      try {
        output = await client.send(
          new ConverseCommand({
            modelId: spec.modelId,
            messages: [
              {
                role: 'user',
                content: [
                  { image: { format: 'jpeg', source: { bytes: request.jpeg } } },
                  { text: request.prompt },
                ],
              },
            ],
            inferenceConfig: {
              ...(request.maxTokens ? { maxTokens: request.maxTokens } : {}),
              ...(request.sample ? {} : { temperature: 0 }),
            },
          }),
          { abortSignal: request.signal },
        );
      } catch (error) {
        throw bedrockError(spec, error);
      }
      const parts = output.output?.message?.content ?? [];
      const text = parts.map((part) => part.text ?? '').join('');
      if (parts.length === 0) {
        throw new RemoteCallError('malformed', `Bedrock ${spec.modelId} answered without a text block`);
      }
      return {
        text,
        ...(typeof output.usage?.inputTokens === 'number' ? { inputTokens: output.usage.inputTokens } : {}),
        ...(typeof output.usage?.outputTokens === 'number'
          ? { outputTokens: output.usage.outputTokens }
          : {}),
      };
    },
  };
}

/** Bedrock's exception names, as the retry policy sees them. */
const FAILURES: Readonly<Record<string, RemoteFailure>> = {
  ThrottlingException: 'rate-limited',
  ServiceQuotaExceededException: 'rate-limited',
  ResourceNotFoundException: 'model-not-found',
  AccessDeniedException: 'auth',
  UnrecognizedClientException: 'auth',
  ExpiredTokenException: 'auth',
  ValidationException: 'refused',
  ModelErrorException: 'server',
  ModelNotReadyException: 'server',
  ModelTimeoutException: 'server',
  InternalServerException: 'server',
  ServiceUnavailableException: 'server',
  TimeoutError: 'timeout',
  AbortError: 'timeout',
};

function bedrockError(spec: BedrockSpec, error: unknown): RemoteCallError {
  const { name = 'Error', message = String(error) } = error as { name?: string; message?: string };
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  let failure =
    FAILURES[name] ?? (status === undefined ? 'unreachable' : status >= 500 ? 'server' : 'refused');
  // An unknown or unsupported model id comes back as a ValidationException.
  if (name === 'ValidationException' && /model identifier|model id|on-demand throughput/i.test(message)) {
    failure = 'model-not-found';
  }
  return new RemoteCallError(failure, `Bedrock ${spec.modelId}: ${name}: ${message}`, {
    cause: error,
    ...(status === undefined ? {} : { status }),
  });
}
