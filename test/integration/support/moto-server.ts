import { type ChildProcess, spawn } from 'node:child_process';

export interface MotoServer {
  /** http://127.0.0.1:<port>: S3 and SQS on one endpoint. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts moto_server (preinstalled Python) on loopback with a free port chosen by the OS, and
 * resolves once it listens. Every test file starts its own and stops it in afterAll.
 */
export async function startMotoServer(timeoutMs = 30_000): Promise<MotoServer> {
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`moto_server did not start within ${timeoutMs} ms: ${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        missing
          ? new Error("moto_server is not on PATH: pip install 'moto[server]'", { cause: error })
          : error,
      );
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`moto_server exited with ${code}: ${output}`));
    });
  });
  // Keep draining its request log so the pipe never fills up.
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
