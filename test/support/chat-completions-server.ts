import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback server speaking the OpenAI chat-completions protocol the way vLLM and Ollama answer it,
 * for tests of the openai-compatible runner: success bodies in each server's shape, their error
 * bodies, 429 with Retry-After, slow replies and replies held until a test releases them.
 */

export interface ChatRequest {
  readonly model: string;
  readonly messages: Array<{
    role: string;
    content: Array<{ type: string; text?: string; image_url?: { url: string } }>;
  }>;
  readonly max_tokens?: number;
  readonly temperature?: number;
  readonly stream?: boolean;
}

export interface RecordedRequest {
  readonly path: string;
  readonly authorization?: string;
  readonly body: ChatRequest;
}

export type ChatReply =
  | { readonly status: number; readonly body: unknown; readonly headers?: Record<string, string> }
  /** Answer `reply` after `delayMs` (a slow server). */
  | { readonly delayMs: number; readonly reply: ChatReply }
  /** Answer `reply` only when the test calls `release()` (to count requests in flight). */
  | { readonly held: true; readonly reply: ChatReply };

/** A vLLM chat completion (vllm/entrypoints/openai/protocol.py ChatCompletionResponse). */
export function vllmAnswer(
  model: string,
  content: string,
  usage = { prompt: 1312, completion: 9 },
): ChatReply {
  return {
    status: 200,
    body: {
      id: 'chatcmpl-3f2a9c1d',
      object: 'chat.completion',
      created: 1764921600,
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', reasoning_content: null, content, tool_calls: [] },
          logprobs: null,
          finish_reason: 'stop',
          stop_reason: null,
        },
      ],
      usage: {
        prompt_tokens: usage.prompt,
        total_tokens: usage.prompt + usage.completion,
        completion_tokens: usage.completion,
        prompt_tokens_details: null,
      },
      prompt_logprobs: null,
    },
  };
}

/** An Ollama /v1/chat/completions answer (openai/openai.go toChatCompletion). */
export function ollamaAnswer(model: string, content: string): ChatReply {
  return {
    status: 200,
    body: {
      id: 'chatcmpl-512',
      object: 'chat.completion',
      created: 1764921600,
      model,
      system_fingerprint: 'fp_ollama',
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 782, completion_tokens: 11, total_tokens: 793 },
    },
  };
}

/** vLLM's error body (ErrorResponse: object "error", the status repeated as code). */
export function vllmError(status: number, message: string, type: string): ChatReply {
  return { status, body: { object: 'error', message, type, param: null, code: status } };
}

/** Ollama's OpenAI-compatible error body (openai.NewError: only three types, code always null). */
export function ollamaError(status: number, message: string): ChatReply {
  const type = status === 400 ? 'invalid_request_error' : status === 404 ? 'not_found_error' : 'api_error';
  return { status, body: { error: { message, type, param: null, code: null } } };
}

export interface ChatServer {
  /** Base URL for the manifest's `endpoint`, e.g. http://127.0.0.1:41234/v1 */
  readonly endpoint: string;
  readonly requests: RecordedRequest[];
  /** Most requests that were in flight at once. */
  readonly maxInFlight: () => number;
  /** Lets every held reply go. */
  readonly release: () => void;
  readonly close: () => Promise<void>;
}

/** `replies` in order (the last one repeats), or a function of the request's index. */
export async function startChatServer(
  replies: readonly ChatReply[] | ((index: number, request: RecordedRequest) => ChatReply),
): Promise<ChatServer> {
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let releaseHeld: Array<() => void> = [];
  let released = false;
  const replyFor = (index: number, request: RecordedRequest): ChatReply =>
    typeof replies === 'function'
      ? replies(index, request)
      : (replies[Math.min(index, replies.length - 1)] as ChatReply);

  const send = async (reply: ChatReply, res: ServerResponse): Promise<void> => {
    if ('delayMs' in reply) {
      await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
      return send(reply.reply, res);
    }
    if ('held' in reply) {
      if (!released) await new Promise<void>((resolve) => releaseHeld.push(resolve));
      return send(reply.reply, res);
    }
    if (res.destroyed) return;
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const request: RecordedRequest = {
        path: req.url ?? '',
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest,
      };
      const index = requests.push(request) - 1;
      if (request.path !== '/v1/chat/completions') {
        await send(ollamaError(404, `404 page not found: ${request.path}`), res);
        return;
      }
      await send(replyFor(index, request), res);
    } finally {
      inFlight--;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/v1`,
    requests,
    maxInFlight: () => maxInFlight,
    release: () => {
      released = true;
      for (const resolve of releaseHeld) resolve();
      releaseHeld = [];
    },
    close: async () => {
      released = true;
      for (const resolve of releaseHeld) resolve();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The image a recorded request carried, as bytes (from its base64 data URI). */
export function imageOf(request: RecordedRequest): { mediaType: string; bytes: Buffer } {
  const part = request.body.messages[0]?.content.find((p) => p.type === 'image_url');
  const match = /^data:([^;]+);base64,(.+)$/.exec(part?.image_url?.url ?? '');
  if (!match) throw new Error('The request carried no image data URI');
  return { mediaType: match[1] as string, bytes: Buffer.from(match[2] as string, 'base64') };
}

/** The prompt text a recorded request carried. */
export function promptOf(request: RecordedRequest): string | undefined {
  return request.body.messages[0]?.content.find((p) => p.type === 'text')?.text;
}
