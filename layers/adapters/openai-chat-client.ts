import type { OpenAiCompatibleSpec } from '#engine/models/manifest.ts';
import {
  RemoteCallError,
  type RemoteFailure,
  type RemoteVisionAnswer,
  type RemoteVisionClient,
  type RemoteVisionRequest,
} from '#engine/models/remote-client.ts';

/**
 * The OpenAI chat-completions protocol as vLLM, Ollama, llama.cpp and LM Studio serve it: one user
 * message holding the prompt and the image as a base64 data URI, `stream: false`. Errors come back
 * in three shapes, all read here: `{ error: { message, type, code } }` (OpenAI, Ollama's /v1, recent
 * vLLM), `{ object: "error", message, type, code }` (older vLLM) and `{ error: "text" }` (Ollama's
 * native API behind a proxy).
 */
export function openAiChatClient(
  spec: OpenAiCompatibleSpec,
  options: { apiKey?: string; fetch?: typeof fetch } = {},
): RemoteVisionClient {
  const url = `${spec.endpoint.replace(/\/+$/, '')}/chat/completions`;
  const send = options.fetch ?? fetch;
  return {
    async ask(request: RemoteVisionRequest): Promise<RemoteVisionAnswer> {
      const body = {
        model: spec.model,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: request.prompt },
              {
                type: 'image_url',
                image_url: { url: `data:image/jpeg;base64,${Buffer.from(request.jpeg).toString('base64')}` },
              },
            ],
          },
        ],
        ...(request.maxTokens ? { max_tokens: request.maxTokens } : {}),
        ...(request.sample ? {} : { temperature: 0 }),
        stream: false,
      };
      let response: Response;
      let text: string;
      try {
        response = await send(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
          },
          body: JSON.stringify(body),
          signal: request.signal,
        });
        text = await response.text();
      } catch (error) {
        const name = (error as Error).name;
        const failure: RemoteFailure =
          name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'unreachable';
        throw new RemoteCallError(failure, `POST ${url}: ${networkReason(error)}`, { cause: error });
      }
      if (!response.ok) throw httpError(url, response, text);
      return parseCompletion(url, text);
    },
  };
}

/** The deepest cause's code or message: fetch wraps ECONNREFUSED and ENOTFOUND in "fetch failed". */
function networkReason(error: unknown): string {
  let current = error as { message?: string; code?: string; cause?: unknown } | undefined;
  let reason = current?.message ?? String(error);
  while (current) {
    if (current.code) reason = `${current.code}${current.message ? ` (${current.message})` : ''}`;
    current = current.cause as typeof current;
  }
  return reason;
}

/** The server's own words from any of the error shapes, else the start of the body. */
export function errorMessageOf(body: string): string {
  try {
    const value = JSON.parse(body) as { error?: unknown; message?: unknown; detail?: unknown };
    if (typeof value.error === 'string') return value.error;
    if (value.error && typeof value.error === 'object') {
      const message = (value.error as { message?: unknown }).message;
      if (typeof message === 'string') return message;
    }
    if (typeof value.message === 'string') return value.message;
    if (typeof value.detail === 'string') return value.detail;
  } catch {
    // Not JSON: a proxy's HTML page, say.
  }
  return body.replace(/\s+/g, ' ').trim().slice(0, 200);
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMsOf(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function failureOf(status: number, message: string): RemoteFailure {
  if (status === 429) return 'rate-limited';
  if (status === 401 || status === 403) return 'auth';
  // vLLM answers an unknown model with 404 NotFoundError; Ollama with 404 "model … not found".
  if (status === 404) return 'model-not-found';
  if (status >= 500) return 'server';
  // Some servers answer an unknown model with 400: the words say which it is.
  if (/model\b.*\b(not found|does not exist|unknown)/i.test(message)) return 'model-not-found';
  return 'refused';
}

function httpError(url: string, response: Response, body: string): RemoteCallError {
  const message = errorMessageOf(body);
  const retryAfterMs = retryAfterMsOf(response.headers.get('retry-after'));
  return new RemoteCallError(
    failureOf(response.status, message),
    `HTTP ${response.status} from ${url}: ${message}`,
    {
      status: response.status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    },
  );
}

interface ChatCompletion {
  choices?: Array<{ message?: { content?: unknown }; finish_reason?: string }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

function parseCompletion(url: string, body: string): RemoteVisionAnswer {
  let value: ChatCompletion;
  try {
    value = JSON.parse(body) as ChatCompletion;
  } catch {
    throw new RemoteCallError(
      'malformed',
      `${url} answered with something that is not JSON: ${body.slice(0, 120)}`,
    );
  }
  const content = value.choices?.[0]?.message?.content;
  // Content may be a string or (some servers) an array of text parts.
  const text =
    typeof content === 'string'
      ? content
      : Array.isArray(content)
        ? content.map((part) => (typeof part?.text === 'string' ? part.text : '')).join('')
        : undefined;
  if (text === undefined) {
    throw new RemoteCallError(
      'malformed',
      `${url} answered without choices[0].message.content: ${body.slice(0, 120)}`,
    );
  }
  const usage = value.usage;
  return {
    text,
    ...(typeof usage?.prompt_tokens === 'number' ? { inputTokens: usage.prompt_tokens } : {}),
    ...(typeof usage?.completion_tokens === 'number' ? { outputTokens: usage.completion_tokens } : {}),
  };
}
