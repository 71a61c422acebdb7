import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ENV } from '#engine/index.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { s3Event } from '#test/unit/aws/fakes.ts';
import { stackPropsFromContext } from '../../infra/config.ts';
import { REPO_ROOT, readModelRefs } from '../../infra/describer-image.ts';
import { buildFixtureModelSet } from '../../models/fixtures/build.ts';
import { logicalId, synthesize } from '../infra/synth.ts';
import { BACKENDS, type IntegrationStack } from '../integration/support/backends.ts';
import { receive, toSqsEvent } from '../integration/support/lambda-sqs.ts';
import { hostArch, ImageTestError, podman, podmanEnv, step } from './podman.ts';
import { type RuntimeApi, startRuntimeApi } from './runtime-api.ts';
import { ensureStandinBase } from './standin-base.ts';

/**
 * `npm run test:images`: builds the fast and detailed images exactly as the synthesized stack
 * describes them (Dockerfile, target, build args, staged context), on a stand-in for the Lambda base
 * image and for this host's architecture, with the known-answer fixture models instead of the real
 * ones. Then runs each the way Lambda does: a read-only root, a tmpfs /tmp, a non-root user, the
 * function's environment from the synthesized template, a Runtime API (loopback) that hands it one
 * event, and the embedded S3/SQS servers in place of AWS. Not part of `npm test`: the first run
 * builds the base (about 10 minutes on 2 cores) and both images.
 */

/** Lambda's sandbox user (sbx_user1051). */
const LAMBDA_USER = '993:990';
const WORK = join(REPO_ROOT, 'test-output', 'images');
const INPUT_KEY = 'images/container/red photo.png';

interface ImageAsset {
  readonly target: 'fast' | 'detailed';
  readonly tag: string;
  readonly dockerFile: string;
  readonly directory: string;
  readonly buildArgs: Record<string, string>;
  readonly buildContexts: Record<string, string>;
}

interface FunctionShape {
  readonly environment: Record<string, unknown>;
  readonly memoryMB: number;
  readonly timeoutSeconds: number;
  readonly command: string[];
}

const started = Date.now();
const figures: string[] = [];

async function main(): Promise<void> {
  const base = await ensureStandinBase();
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });

  step('building the fixture models (known answers: a red image is "a red square")');
  const modelsDir = join(WORK, 'models');
  await buildFixtureModelSet(modelsDir);

  step('synthesizing the stack with the fixture models (default switches, as `npm run deploy` without -c)');
  const synth = synthesize(
    { ...stackPropsFromContext({ tryGetContext: () => undefined }), models: readModelRefs(modelsDir) },
    { bundle: false },
  );
  try {
    const resources = synth.template.toJSON().Resources as Record<string, CfnFunction>;
    const shapes = {
      fast: functionShape(resources[logicalId(synth.stack, synth.stack.fastDescribe.fn)]),
      detailed: functionShape(resources[logicalId(synth.stack, synth.stack.detailedWorker.fn)]),
    };
    const refs = {
      bucket: logicalId(synth.stack, synth.stack.descriptionBucket.bucket),
      queue: logicalId(synth.stack, synth.stack.detailedWorker.queue),
    };
    const assets = imageAssets(synth.outdir, synth.stack.artifactId, modelsDir);

    for (const asset of assets) await buildImage(asset, base);

    const servers = await BACKENDS[0]?.start('describer-images');
    if (!servers) throw new ImageTestError('the embedded S3/SQS backend is missing');
    try {
      const image = (target: ImageAsset['target']) => {
        const found = assets.find((a) => a.target === target);
        if (!found) throw new ImageTestError(`the stack synthesized no ${target} image`);
        return found;
      };
      const local = { servers, refs };
      const fast = { image: image('fast'), shape: shapes.fast };
      const job = await runFast(fast, local);
      await runDetailed({ image: image('detailed'), shape: shapes.detailed }, local, job);
      await runMissingModel(fast, local);
    } finally {
      await servers.stop();
    }
  } finally {
    synth.cleanup();
  }
}

interface CfnFunction {
  readonly Properties: {
    readonly Environment?: { readonly Variables?: Record<string, unknown> };
    readonly MemorySize: number;
    readonly Timeout: number;
    readonly ImageConfig?: { readonly Command?: string[] };
  };
}

function functionShape(resource: CfnFunction | undefined): FunctionShape {
  if (!resource) throw new ImageTestError('a describe function is missing from the template');
  return {
    environment: resource.Properties.Environment?.Variables ?? {},
    memoryMB: resource.Properties.MemorySize,
    timeoutSeconds: resource.Properties.Timeout,
    command: resource.Properties.ImageConfig?.Command ?? [],
  };
}

/**
 * The docker image assets of the synthesized stack, with the two things a deploy gets from
 * `npm run models:fetch` replaced by the fixtures: the model folders (named build contexts) and
 * models/manifest.json in the staged context.
 */
function imageAssets(outdir: string, artifactId: string, modelsDir: string): ImageAsset[] {
  const manifest = JSON.parse(readFileSync(join(outdir, `${artifactId}.assets.json`), 'utf8')) as {
    dockerImages: Record<
      string,
      {
        source: {
          directory: string;
          dockerFile: string;
          dockerBuildTarget: 'fast' | 'detailed';
          dockerBuildArgs?: Record<string, string>;
          dockerBuildContexts?: Record<string, string>;
        };
      }
    >;
  };
  return Object.values(manifest.dockerImages).map(({ source }) => {
    const directory = join(outdir, source.directory);
    copyFileSync(join(modelsDir, 'manifest.json'), join(directory, 'models', 'manifest.json'));
    const contexts = Object.fromEntries(
      Object.entries(source.dockerBuildContexts ?? {}).map(([name, path]) => {
        const model = relative(join(REPO_ROOT, 'models'), path);
        return [name, model.startsWith('..') ? path : join(modelsDir, model)];
      }),
    );
    return {
      target: source.dockerBuildTarget,
      tag: `localhost/image-describer/${source.dockerBuildTarget}:test`,
      dockerFile: source.dockerFile,
      directory,
      buildArgs: source.dockerBuildArgs ?? {},
      buildContexts: contexts,
    };
  });
}

async function buildImage(asset: ImageAsset, base: string): Promise<void> {
  const platform = `linux/${hostArch().oci}`;
  step(
    `building the ${asset.target} image for ${platform} (the stack deploys arm64; the Dockerfile is the same)`,
  );
  const buildStart = Date.now();
  const args = [
    'build',
    '--layers',
    '--platform',
    platform,
    '-f',
    join(asset.directory, asset.dockerFile),
    '--target',
    asset.target,
    '--build-arg',
    `BASE_IMAGE=${base}`,
    // BuildKit sets it; buildah 1.28 may not, and the build stage's FROM names it.
    '--build-arg',
    `BUILDPLATFORM=${platform}`,
    ...Object.entries(asset.buildArgs).flatMap(([name, value]) => ['--build-arg', `${name}=${value}`]),
    ...Object.entries(asset.buildContexts).flatMap(([name, path]) => ['--build-context', `${name}=${path}`]),
    '-t',
    asset.tag,
    asset.directory,
  ];
  await podman(args);
  const size = Number(
    (await podman(['image', 'inspect', '--format', '{{.Size}}', asset.tag], { capture: true })).trim(),
  );
  const baseSize = Number(
    (await podman(['image', 'inspect', '--format', '{{.Size}}', base], { capture: true })).trim(),
  );
  figures.push(
    `${asset.target} image: ${mb(size)} (stand-in base ${mb(baseSize)} + ${mb(size - baseSize)} of node_modules, models and code), built in ${seconds(Date.now() - buildStart)}`,
  );
  const layers = await podman(['history', '--format', '{{.Size}}\t{{.CreatedBy}}', asset.tag], {
    capture: true,
  });
  for (const line of layers.trim().split('\n').slice(0, 6))
    process.stderr.write(`    ${line.slice(0, 160)}\n`);
}

/** The template's environment with the stack's own resources pointed at the local servers. */
function localEnvironment(
  shape: FunctionShape,
  servers: IntegrationStack,
  refs: { bucket: string; queue: string },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(shape.environment)) {
    // No local server speaks S3 Vectors: the containers run without the index (the fast stage
    // then writes no vector); the vector writes are tested through the handlers with client mocks.
    if (name === ENV.VECTOR_INDEX_ARN) continue;
    if (typeof value === 'string') env[name] = value;
    else if (isRef(value, refs.bucket)) env[name] = servers.bucket;
    else if (isRef(value, refs.queue)) env[name] = servers.detailed.url;
    else
      throw new ImageTestError(`${name} is ${JSON.stringify(value)} in the template: no local value for it`);
  }
  return env;
}

function isRef(value: unknown, id: string): boolean {
  return typeof value === 'object' && value !== null && (value as { Ref?: unknown }).Ref === id;
}

interface Container {
  readonly name: string;
  readonly api: RuntimeApi;
  readonly exited: Promise<number>;
}

/**
 * `podman run` as Lambda runs a function: read-only root with only /tmp writable (tmpfs), a
 * non-root user, host loopback for the Runtime API and the local servers, and the variables Lambda
 * sets itself. The only additions are the local endpoints and credentials.
 */
async function startFunction(
  image: ImageAsset,
  shape: FunctionShape,
  env: Record<string, string>,
  servers: IntegrationStack,
  name: string,
): Promise<Container> {
  const api = await startRuntimeApi({
    functionArn: `arn:aws:lambda:${servers.env.AWS_REGION}:123456789012:function:${name}`,
  });
  const lambdaEnv: Record<string, string> = {
    ...env,
    AWS_LAMBDA_RUNTIME_API: api.address,
    AWS_LAMBDA_FUNCTION_NAME: name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(shape.memoryMB),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]test`,
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_EXECUTION_ENV: 'AWS_Lambda_Image',
    TZ: ':UTC',
    AWS_REGION: servers.env.AWS_REGION ?? 'us-east-1',
    AWS_DEFAULT_REGION: servers.env.AWS_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: servers.env.AWS_ACCESS_KEY_ID ?? '',
    AWS_SECRET_ACCESS_KEY: servers.env.AWS_SECRET_ACCESS_KEY ?? '',
    AWS_ENDPOINT_URL_S3: servers.env.AWS_ENDPOINT_URL_S3 ?? '',
    AWS_ENDPOINT_URL_SQS: servers.env.AWS_ENDPOINT_URL_SQS ?? '',
  };
  const args = [
    'run',
    '--name',
    name,
    '--network',
    'host',
    '--read-only',
    '--read-only-tmpfs=false',
    '--tmpfs',
    '/tmp:rw,size=512m,mode=1777',
    '--user',
    LAMBDA_USER,
    ...Object.entries(lambdaEnv).flatMap(([key, value]) => ['-e', `${key}=${value}`]),
    image.tag,
    ...shape.command,
  ];
  api.startInit();
  const child = spawn('podman', args, { env: podmanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `    [${name}] `;
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean))
        process.stderr.write(`${prefix}${line.slice(0, 300)}\n`);
    });
  }
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { name, api, exited };
}

async function stopFunction(container: Container): Promise<void> {
  await podman(['rm', '-f', '-t', '0', container.name], { capture: true }).catch(() => undefined);
  await container.exited;
  await container.api.close();
}

/** Init ends at the first GET /next; an init error or an exit first is a failure. */
async function initialized(container: Container): Promise<number> {
  return Promise.race([
    container.api.initialized,
    container.api.initError.then((error) => {
      throw new ImageTestError(`init failed: ${error.errorType}: ${error.errorMessage}`);
    }),
    container.exited.then((code) => {
      throw new ImageTestError(`the container exited with ${code} during init`);
    }),
  ]);
}

async function invoke(container: Container, shape: FunctionShape, event: unknown): Promise<unknown> {
  const timeoutMs = shape.timeoutSeconds * 1000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ImageTestError(`no response within the function timeout (${shape.timeoutSeconds} s)`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([container.api.invoke(event, timeoutMs), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** A built image with the shape of its function in the template. */
interface LambdaFunction {
  readonly image: ImageAsset;
  readonly shape: FunctionShape;
}

/** The local stand-ins for the stack's resources, and the template ids that refer to them. */
interface Local {
  readonly servers: IntegrationStack;
  readonly refs: { readonly bucket: string; readonly queue: string };
}

/** Runs `body` against the started function; the container is always removed afterwards. */
async function withFunction<T>(
  fn: LambdaFunction,
  local: Local,
  name: string,
  body: (container: Container) => Promise<T>,
  envOverrides: Record<string, string> = {},
): Promise<T> {
  const env = { ...localEnvironment(fn.shape, local.servers, local.refs), ...envOverrides };
  const container = await startFunction(fn.image, fn.shape, env, local.servers, name);
  try {
    return await body(container);
  } finally {
    await stopFunction(container);
  }
}

async function runFast(fn: LambdaFunction, local: Local): Promise<unknown> {
  step('fast image: an S3 ObjectCreated event for a red PNG');
  const { servers } = local;
  await servers.s3.send(
    new PutObjectCommand({ Bucket: servers.bucket, Key: INPUT_KEY, Body: await imageFixture('solidRed') }),
  );
  const head = await servers.s3.send(new HeadObjectCommand({ Bucket: servers.bucket, Key: INPUT_KEY }));
  return withFunction(fn, local, 'describe-fast', async (container) => {
    const initMs = await initialized(container);
    const invokeStart = Date.now();
    const event = s3Event([
      {
        bucket: servers.bucket,
        key: 'images/container/red+photo.png',
        etag: head.ETag?.replaceAll('"', '') ?? '',
        size: head.ContentLength ?? 0,
      },
    ]);
    await invoke(container, fn.shape, event);
    const invokeMs = Date.now() - invokeStart;
    const sidecar = await readSidecar(servers);
    expectEqual('fast sidecar caption', sidecar.caption, 'a red square');
    expectEqual('fast stage', sidecar.status.fast.state, 'done');
    expectEqual('detailed stage after the fast one', sidecar.status.detailed.state, 'pending');
    figures.push(
      `fast: init ${seconds(initMs)} (podman run to the first GET /next), invoke ${seconds(invokeMs)}`,
    );
    const jobs = await receive(servers.sqs, servers.detailed.url);
    expectEqual('detailed jobs queued', jobs.length, 1);
    return toSqsEvent(jobs, servers.detailed.arn);
  });
}

async function runDetailed(fn: LambdaFunction, local: Local, event: unknown): Promise<void> {
  step('detailed image: the SQS job the fast image queued');
  await withFunction(fn, local, 'describe-detailed', async (container) => {
    const initMs = await initialized(container);
    const invokeStart = Date.now();
    const response = (await invoke(container, fn.shape, event)) as { batchItemFailures?: unknown[] };
    const invokeMs = Date.now() - invokeStart;
    expectEqual('batch item failures', JSON.stringify(response.batchItemFailures), '[]');
    const sidecar = await readSidecar(local.servers);
    expectEqual('detailed stage', sidecar.status.detailed.state, 'done');
    expectEqual('caption kept by the detailed stage', sidecar.caption, 'a red square');
    if (!sidecar.detailedDescription) throw new ImageTestError('the sidecar has no detailed description');
    figures.push(
      `detailed: init ${seconds(initMs)} (with the PP-OCR models), invoke ${seconds(invokeMs)}; detailed text "${sidecar.detailedDescription}"`,
    );
  });
}

/** A model the image does not carry: init must fail through /runtime/init/error, not at the first event. */
async function runMissingModel(fn: LambdaFunction, local: Local): Promise<void> {
  step('fast image with MODELS_DIR pointing at a folder without models: init must report the error');
  const noModels = { MODELS_DIR: '/var/task/dist' };
  await withFunction(
    fn,
    local,
    'describe-fast-no-model',
    async (container) => {
      const outcome = await Promise.race([
        container.api.initError.then((error) => ({ error })),
        container.api.initialized.then(() => ({ error: undefined })),
        container.exited.then(() => ({ error: undefined })),
      ]);
      if (!outcome.error)
        throw new ImageTestError('init did not report the missing model on /runtime/init/error');
      figures.push(
        `missing model: init error ${outcome.error.errorType}: ${outcome.error.errorMessage?.slice(0, 160)}`,
      );
    },
    noModels,
  );
}

async function readSidecar(servers: IntegrationStack): Promise<DescriptionRecord> {
  const key = `descriptions/${INPUT_KEY.slice('images/'.length)}.json`;
  const out = await servers.s3.send(new GetObjectCommand({ Bucket: servers.bucket, Key: key }));
  return JSON.parse((await out.Body?.transformToString()) ?? '{}') as DescriptionRecord;
}

function expectEqual(what: string, actual: unknown, expected: unknown): void {
  if (actual !== expected) {
    throw new ImageTestError(
      `${what}: expected ${JSON.stringify(expected)} but received ${JSON.stringify(actual)}`,
    );
  }
  step(`ok: ${what} = ${JSON.stringify(actual)}`);
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

try {
  await main();
  console.log(
    ['test:images passed', ...figures.map((f) => `  ${f}`), `  total ${seconds(Date.now() - started)}`].join(
      '\n',
    ),
  );
} catch (error) {
  console.error(`test:images FAILED: ${error instanceof Error ? error.message : String(error)}`);
  if (figures.length > 0) console.error(figures.map((f) => `  ${f}`).join('\n'));
  process.exitCode = 1;
}
