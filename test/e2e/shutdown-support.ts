import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { expect } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#emulators/local-servers.ts';
import { fixtureModelsDir } from '../support/fixture-models.ts';

/**
 * `npm start` as a user runs it — spawned in its own process group (so a test can see whether
 * anything it started is left), on free ports, with the tiny models — and the checks the shutdown
 * tests make after a signal to the npm process: is anything of that group left, is every port free.
 */
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** What "a few seconds" means here, with room for a busy 2-core machine. */
const STOP_WITHIN_MS = 10_000;
/** A warning of another kind, emitted by every node process npm start runs (npm included). */
export const PROBE_WARNING = 'ShutdownTestProbeWarning';

export interface Running {
  readonly npm: ChildProcess;
  readonly ports: { web: number; s3: number; sqs: number };
  readonly s3Endpoint: string;
  stdout(): string;
  stderr(): string;
}

const running: Running[] = [];

/** For afterAll, in case a test failed: nothing a test started may outlive the run. */
export function killLeftovers(): void {
  for (const run of running.splice(0)) {
    const pgid = run.npm.pid as number;
    if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
  }
}

/** A process group with any member left. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Free = we can listen on it ourselves. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The user's environment (without the SDK warning switch) plus the probe warning. */
function startEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_OPTIONS: `--import "data:text/javascript,process.emitWarning('probe','${PROBE_WARNING}')"`,
  };
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  return env;
}

export async function startNpm(dataDir: string, extra: string[] = []): Promise<Running> {
  const npm = spawn(
    'npm',
    [
      'start',
      '--',
      ...['--port', '0', '--s3-port', '0', '--sqs-port', '0'],
      ...['--data', dataDir, '--no-inbox', '--no-fetch', '--models', fixtureModelsDir()],
      ...extra,
    ],
    {
      cwd: ROOT,
      // Its own process group, so that the test can see whether anything it started is left.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: startEnv(),
    },
  );
  let out = '';
  let err = '';
  npm.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  npm.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const run: Running = await new Promise((resolveRun, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${out}\n${err}`)), 90_000);
    npm.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code}) before it was ready:\n${out}\n${err}`));
    });
    const onData = () => {
      if (!out.includes('Press Ctrl+C')) return;
      const url = (label: string) => {
        const match = new RegExp(`${label}\\s+(http://127\\.0\\.0\\.1:(\\d+))`).exec(out);
        if (!match) throw new Error(`no ${label} line in:\n${out}`);
        return { url: match[1] as string, port: Number(match[2]) };
      };
      clearTimeout(timer);
      npm.stdout?.off('data', onData);
      npm.removeAllListeners('exit');
      const s3 = url('S3 \\(s3rver\\)');
      resolveRun({
        npm,
        ports: { web: url('upload API').port, s3: s3.port, sqs: url('SQS \\(fauxqs\\)').port },
        s3Endpoint: s3.url,
        stdout: () => out,
        stderr: () => err,
      });
    };
    npm.stdout?.on('data', onData);
  });
  running.push(run);
  // Prepare check: the ports answer (taken = not free).
  for (const port of Object.values(run.ports)) expect(await portFree(port)).toBe(false);
  return run;
}

/**
 * Signal the npm process only (or, with `group`, every process of its group, as Ctrl+C in a terminal
 * does), then wait until its whole group is gone and every port is free.
 */
export async function signalAndWait(
  run: Running,
  signal: NodeJS.Signals,
  options: { group?: boolean } = {},
): Promise<{ gone: boolean; free: boolean }> {
  const pgid = run.npm.pid as number;
  process.kill(options.group ? -pgid : pgid, signal);
  const deadline = Date.now() + STOP_WITHIN_MS;
  let gone = false;
  let free = false;
  while (Date.now() < deadline) {
    gone = !groupAlive(pgid);
    free = (await Promise.all(Object.values(run.ports).map(portFree))).every(Boolean);
    if (gone && free) break;
    await sleep(200);
  }
  return { gone, free };
}

export function s3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    forcePathStyle: true,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
}
