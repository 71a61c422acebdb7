import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CACHE_DIR, ensureHostTools, hostArch, imageExists, podman, run, step } from './podman.ts';

/** Node 22 as the nodejs:22 Lambda base ships it, npm 10 as it bundles, the runtime client from npm. */
export const NODE_VERSION = '22.23.5';
export const NPM_VERSION = '10.9.8';
export const RIC_VERSION = '4.0.2';
const DEBIAN_SUITE = 'bookworm';
const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
/** What aws-lambda-ric's install scripts compile with (curl, aws-lambda-cpp, a node-gyp addon). */
const BUILD_PACKAGES = ['g++', 'make', 'cmake', 'autoconf', 'automake', 'libtool', 'python3', 'xz-utils'];

const HERE = fileURLToPath(new URL('.', import.meta.url));

/**
 * The stand-in's tag: a change of Node, the runtime client, the suite, the Containerfile or the entry
 * point makes a new one (the cache is by tag).
 */
export function standinTag(): string {
  const inputs = createHash('sha256');
  for (const file of ['standin-base.Containerfile', 'lambda-entrypoint.sh'])
    inputs.update(readFileSync(join(HERE, file)));
  const digest = inputs.update(BUILD_PACKAGES.join(',')).digest('hex').slice(0, 10);
  return `localhost/image-describer/lambda-standin:node${NODE_VERSION}-ric${RIC_VERSION}-${DEBIAN_SUITE}-${hostArch().oci}-${digest}`;
}

/**
 * The stand-in for the Lambda Node 22 base image, built once per tag (later runs reuse it): two
 * Debian root filesystems from mmdebstrap (a minimal one for the image, one with compilers for the
 * runtime client), imported into podman, then standin-base.Containerfile.
 */
export async function ensureStandinBase(): Promise<string> {
  const tag = standinTag();
  await ensureHostTools();
  if (imageExists(tag)) {
    step(`stand-in base ${tag} is cached`);
    return tag;
  }
  step(`building the stand-in base ${tag} (compiles aws-lambda-ric: about 10 minutes on 2 cores)`);
  const work = mkdtempSync(join(CACHE_DIR, 'base-'));
  try {
    const arch = hostArch();
    const rootfs = `localhost/image-describer/debian-minbase:${DEBIAN_SUITE}-${arch.oci}`;
    const builderRootfs = `localhost/image-describer/debian-builder:${DEBIAN_SUITE}-${arch.oci}`;
    await importRootfs(rootfs, ['ca-certificates', 'libstdc++6'], work);
    await importRootfs(builderRootfs, ['ca-certificates', 'libstdc++6', ...BUILD_PACKAGES], work);
    step('packing node, npm and aws-lambda-ric from the npm registry');
    const packed = async (spec: string, as: string) => {
      const name = (await run('npm', ['pack', '--silent', spec], { cwd: work, capture: true }))
        .trim()
        .split('\n')
        .pop();
      if (!name) throw new Error(`npm pack ${spec} printed no file name`);
      renameSync(join(work, name), join(work, as));
    };
    await packed(`node-linux-${arch.node}@${NODE_VERSION}`, 'node.tgz');
    await packed(`npm@${NPM_VERSION}`, 'npm.tgz');
    await packed(`aws-lambda-ric@${RIC_VERSION}`, 'ric.tgz');
    copyFileSync(
      process.env.NODE_EXTRA_CA_CERTS ?? '/etc/ssl/certs/ca-certificates.crt',
      join(work, 'host-ca.crt'),
    );
    copyFileSync(join(HERE, 'lambda-entrypoint.sh'), join(work, 'lambda-entrypoint.sh'));
    // No --layers: the finished base is cached by its tag; the compiler stage (≈ 860 MB) is not kept.
    await podman([
      'build',
      '--build-arg',
      `ROOTFS=${rootfs}`,
      '--build-arg',
      `BUILDER_ROOTFS=${builderRootfs}`,
      '-f',
      join(HERE, 'standin-base.Containerfile'),
      '-t',
      tag,
      work,
    ]);
    return tag;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function importRootfs(tag: string, packages: readonly string[], work: string): Promise<void> {
  if (imageExists(tag)) return;
  step(`mmdebstrap ${DEBIAN_SUITE} with ${packages.join(',')} → ${tag}`);
  const tar = join(work, 'rootfs.tar');
  await run('mmdebstrap', [
    '--variant=minbase',
    `--include=${packages.join(',')}`,
    DEBIAN_SUITE,
    tar,
    DEBIAN_MIRROR,
  ]);
  await podman(['import', tar, tag]);
  rmSync(tar, { force: true });
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  console.log(await ensureStandinBase());
}
