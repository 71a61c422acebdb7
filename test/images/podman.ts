import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where `npm run test:images` keeps its podman settings and scratch files between runs. */
export const CACHE_DIR = join(
  process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
  'image-describer',
  'test-images',
);

/** The Debian packages the image test needs on the host (podman 4.3 and buildah 1.28 on bookworm). */
export const HOST_PACKAGES = ['podman', 'buildah', 'runc', 'uidmap', 'mmdebstrap'] as const;

const started = Date.now();

/** A progress line on stderr with the seconds since the run started. */
export function step(message: string): void {
  process.stderr.write(`[test:images +${((Date.now() - started) / 1000).toFixed(0)}s] ${message}\n`);
}

export class ImageTestError extends Error {
  override readonly name = 'ImageTestError';
  readonly code = 'IMAGE_TEST_FAILED';
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Installs podman, buildah, runc, uidmap and mmdebstrap with apt when one of them is missing. */
export async function ensureHostTools(): Promise<void> {
  const missing = ['podman', 'buildah', 'runc', 'newuidmap', 'mmdebstrap'].filter(
    (command) => !onPath(command),
  );
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new ImageTestError(
      `${missing.join(', ')} not found: run "sudo apt-get install -y ${HOST_PACKAGES.join(' ')}" and retry`,
    );
  }
  step(`installing ${HOST_PACKAGES.join(' ')} with apt (missing: ${missing.join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env });
  await run('apt-get', ['install', '-y', ...HOST_PACKAGES], { env });
}

/**
 * The containers.conf every podman call here uses (via CONTAINERS_CONF, so the host's own settings
 * stay untouched): runc, because crun cannot run in a hybrid cgroup setup, and explicit ulimits,
 * because podman's default raises RLIMIT_NOFILE beyond what an unprivileged sandbox may set.
 */
export function podmanEnv(): NodeJS.ProcessEnv {
  mkdirSync(CACHE_DIR, { recursive: true });
  const conf = join(CACHE_DIR, 'containers.conf');
  writeFileSync(
    conf,
    [
      '[containers]',
      'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
      '',
      '[engine]',
      'runtime = "runc"',
      '',
    ].join('\n'),
  );
  return { ...process.env, CONTAINERS_CONF: conf };
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Keep stdout (returned) instead of passing it through. */
  readonly capture?: boolean;
}

/** Runs a command with its stderr (and stdout unless captured) passed through; rejects on a non-zero exit. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', options.capture ? 'pipe' : 'inherit', 'inherit'],
    });
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new ImageTestError(`${command} ${args.join(' ')} exited with ${code}`));
    });
  });
}

/** podman with this test's containers.conf. */
export function podman(args: readonly string[], options: Omit<RunOptions, 'env'> = {}): Promise<string> {
  return run('podman', args, { ...options, env: podmanEnv() });
}

export function imageExists(tag: string): boolean {
  return spawnSync('podman', ['image', 'exists', tag], { env: podmanEnv(), stdio: 'ignore' }).status === 0;
}

/** Lambda's and OCI's name for the host's CPU architecture. */
export function hostArch(): { node: 'x64' | 'arm64'; oci: 'amd64' | 'arm64' } {
  if (process.arch === 'x64') return { node: 'x64', oci: 'amd64' };
  if (process.arch === 'arm64') return { node: 'arm64', oci: 'arm64' };
  throw new ImageTestError(`Lambda runs x86_64 or arm64; this host is ${process.arch}`);
}
