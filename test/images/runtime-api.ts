import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The part of the Lambda Runtime API a runtime interface client talks to, on loopback: it hands out
 * queued events on `GET /next` and collects responses, invocation errors and init errors. The first
 * `GET /next` is the end of the init phase (the runtime has loaded the handler module).
 */
export interface RuntimeApi {
  /** `host:port`, the value of AWS_LAMBDA_RUNTIME_API. */
  readonly address: string;
  /** Resolves with the init duration (ms since `startInit`) on the first `GET /next`. */
  readonly initialized: Promise<number>;
  /** Resolves with the body of `POST /runtime/init/error`. */
  readonly initError: Promise<RuntimeError>;
  /** Marks the start of the init phase (call when the container starts). */
  startInit(): void;
  /** Queues an event; resolves with the handler's response or rejects with its error. */
  invoke(event: unknown, timeoutMs: number): Promise<unknown>;
  close(): Promise<void>;
}

export interface RuntimeError {
  readonly errorType?: string;
  readonly errorMessage?: string;
}

export class InvocationError extends Error {
  override readonly name = 'InvocationError';
  readonly code = 'INVOCATION_FAILED';
  constructor(readonly error: RuntimeError) {
    super(`${error.errorType ?? 'Error'}: ${error.errorMessage ?? '(no message)'}`);
  }
}

const PREFIX = '/2018-06-01/runtime';

interface Pending {
  readonly id: string;
  readonly event: unknown;
  readonly deadline: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function startRuntimeApi(options: { functionArn: string }): Promise<RuntimeApi> {
  const queue: Pending[] = [];
  const inFlight = new Map<string, Pending>();
  const waiting: ServerResponse[] = [];
  let initStart = Date.now();
  let markInit: (ms: number) => void = () => undefined;
  let markInitError: (error: RuntimeError) => void = () => undefined;
  const initialized = new Promise<number>((resolve) => {
    markInit = resolve;
  });
  const initError = new Promise<RuntimeError>((resolve) => {
    markInitError = resolve;
  });

  const deliver = () => {
    while (queue.length > 0 && waiting.length > 0) {
      const next = queue.shift() as Pending;
      const res = waiting.shift() as ServerResponse;
      inFlight.set(next.id, next);
      res.writeHead(200, {
        'content-type': 'application/json',
        'lambda-runtime-aws-request-id': next.id,
        'lambda-runtime-deadline-ms': String(next.deadline),
        'lambda-runtime-invoked-function-arn': options.functionArn,
        'lambda-runtime-trace-id': `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${next.id.replaceAll('-', '').slice(0, 24)};Sampled=0`,
      });
      res.end(JSON.stringify(next.event));
    }
  };

  const server = createServer(async (req, res) => {
    const url = req.url ?? '';
    const body = req.method === 'POST' ? await readBody(req) : '';
    if (req.method === 'GET' && url === `${PREFIX}/invocation/next`) {
      markInit(Date.now() - initStart);
      waiting.push(res);
      deliver();
      return;
    }
    const done = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (req.method === 'POST' && done?.[1] && done[2]) {
      const pending = inFlight.get(done[1]);
      inFlight.delete(done[1]);
      if (done[2] === 'response') pending?.resolve(parse(body));
      else pending?.reject(new InvocationError(parse(body) as RuntimeError));
      res.writeHead(202).end('{"status":"OK"}');
      return;
    }
    if (req.method === 'POST' && url === `${PREFIX}/init/error`) {
      markInitError(parse(body) as RuntimeError);
      res.writeHead(202).end('{"status":"OK"}');
      return;
    }
    res.writeHead(404).end(JSON.stringify({ errorMessage: `no route ${req.method} ${url}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    address: `127.0.0.1:${port}`,
    initialized,
    initError,
    startInit: () => {
      initStart = Date.now();
    },
    invoke(event, timeoutMs) {
      return new Promise((resolve, reject) => {
        queue.push({ id: randomUUID(), event, deadline: Date.now() + timeoutMs, resolve, reject });
        deliver();
      });
    },
    async close() {
      for (const res of waiting.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
