import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { type FetchProgressEvent, fetchMissingModels, REVISION_MARKER } from '#engine/models/fetch-models.ts';
import type { Manifest, ModelSpec } from '#engine/models/manifest.ts';
import { ModelRegistry } from '#engine/models/registry.ts';
import { main as fetchCli } from '#models/fetch.ts';
import { writeSmolVlmFixture } from '#models/fixtures/smolvlm.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { closedPort, silentServer, startFakeHub } from './fetch-support.ts';
import { COLOUR_RGB, mostlyImage } from './support.ts';

const ID = 'test-org/smolvlm-colour';
const REVISION = '0123456789abcdef0123456789abcdef01234567';
const FILES = [
  'config.json',
  'generation_config.json',
  'preprocessor_config.json',
  'processor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/vision_encoder.onnx',
  'onnx/embed_tokens.onnx',
  'onnx/decoder_model_merged_quantized.onnx',
];

/** What the hub holds for the test repo: the listed files plus other dtypes that must not be fetched. */
let hubFiles: Record<string, Uint8Array>;

beforeAll(async () => {
  const source = await mkdtemp(join(tmpdir(), 'hub-src-'));
  await writeSmolVlmFixture(source);
  const read = (file: string) => readFile(join(source, file)).then((b) => new Uint8Array(b));
  const decoder = await read('onnx/decoder_model_merged.onnx');
  hubFiles = {
    ...Object.fromEntries(
      await Promise.all(FILES.filter((f) => !f.includes('decoder')).map(async (f) => [f, await read(f)])),
    ),
    // An fp32 graph under the q8 name loads all the same: the test is about which file is fetched.
    'onnx/decoder_model_merged_quantized.onnx': decoder,
    'onnx/decoder_model_merged.onnx': decoder,
    'onnx/decoder_model_merged_q4.onnx': decoder,
    'onnx/vision_encoder_quantized.onnx': await read('onnx/vision_encoder.onnx'),
    'special_tokens_map.json': await read('special_tokens_map.json'),
  };
  await rm(source, { recursive: true, force: true });
});

/**
 * A model set whose Florence-2 (caption, objects) is already on disk (copied by hand, no marker) and
 * whose `smol` model (the detailed task) is on the hub.
 */
async function modelSet(edit: (smol: ModelSpec) => ModelSpec = (s) => s): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fetch-models-'));
  const fixture = JSON.parse(await readFile(join(fixtureModelsDir(), 'manifest.json'), 'utf8')) as Manifest;
  const florence2 = fixture.models.florence2 as ModelSpec;
  await cp(join(fixtureModelsDir(), florence2.id), join(dir, florence2.id), { recursive: true });
  const smol = edit({
    ...(fixture.models.smolvlm as ModelSpec),
    id: ID,
    revision: REVISION,
    dtype: { vision_encoder: 'fp32', embed_tokens: 'fp32', decoder_model_merged: 'q8' },
    files: FILES,
    fetch: 'default',
  });
  const manifest = {
    manifestVersion: 2,
    models: { florence2, smol },
    tasks: {
      caption: fixture.tasks.caption,
      objects: fixture.tasks.objects,
      detailed: { model: 'smol', stage: 'detailed', prompt: 'Describe this image in detail.' },
    },
  };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

async function listFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('fetchMissingModels against a fake hub on loopback', () => {
  let hub: Awaited<ReturnType<typeof startFakeHub>>;
  let dir: string;

  beforeEach(async () => {
    hub = await startFakeHub({ [ID]: { revision: REVISION, files: hubFiles } });
  });

  afterEach(async () => {
    await hub.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    vi.restoreAllMocks();
  });

  test('downloads exactly the listed files at the pinned revision into <dir>/<id>/, and the model then runs', async () => {
    // Prepare
    dir = await modelSet();
    const events: FetchProgressEvent[] = [];

    // Act
    const fetched = await fetchMissingModels(dir, {
      endpoint: hub.endpoint,
      onProgress: (e) => events.push(e),
    });

    // Assess: the files, where the runtime looks for them, and nothing else
    const folder = join(dir, ID);
    expect(await listFiles(folder)).toEqual([...FILES, REVISION_MARKER].sort());
    for (const file of FILES)
      expect(new Uint8Array(await readFile(join(folder, file)))).toEqual(hubFiles[file]);
    expect(
      hub
        .resolved()
        .filter((r) => r.startsWith('GET'))
        .sort(),
    ).toEqual(FILES.map((f) => `GET /${ID}/resolve/${REVISION}/${f}`).sort());
    // other dtypes, unused files and the hand-filled fast model are never asked for
    expect(hub.resolved().every((r) => r.includes(`/${ID}/resolve/${REVISION}/`))).toBe(true);
    expect(
      hub
        .resolved()
        .some((r) => /_q4|vision_encoder_quantized|special_tokens_map|decoder_model_merged\.onnx/.test(r)),
    ).toBe(false);
    expect(JSON.parse(await readFile(join(folder, REVISION_MARKER), 'utf8'))).toMatchObject({
      id: ID,
      revision: REVISION,
    });
    expect(fetched.find((m) => m.id === ID)?.downloaded).toHaveLength(FILES.length);
    expect(fetched.find((m) => m.id !== ID)?.downloaded).toEqual([]);
    const total = FILES.reduce((sum, f) => sum + (hubFiles[f]?.length ?? 0), 0);
    expect(events.find((e) => e.type === 'model' && e.id === ID)).toMatchObject({ totalBytes: total });
    expect(events.filter((e) => e.type === 'bytes').at(-1)).toMatchObject({
      receivedBytes: total,
      totalBytes: total,
    });

    const models = await ModelRegistry.open({ modelsDir: dir, threads: 1 });
    try {
      expect(models.missingModels()).toEqual([]);
      const runner = await models.textRunner('detailed');
      expect(await runner.describe(mostlyImage(COLOUR_RGB.red))).toBe('the image shows a red square');
    } finally {
      await models.dispose();
    }
  });

  test('a second run downloads nothing and asks the hub nothing', async () => {
    dir = await modelSet();
    await fetchMissingModels(dir, { endpoint: hub.endpoint });
    hub.requests.length = 0;

    const fetched = await fetchMissingModels(dir, { endpoint: hub.endpoint });

    expect(hub.requests).toEqual([]);
    expect(fetched.map((m) => m.downloaded)).toEqual([[], []]);
  });

  test('without a marker, files already there with the right size are kept; only the missing one is fetched', async () => {
    dir = await modelSet();
    await fetchMissingModels(dir, { endpoint: hub.endpoint });
    await rm(join(dir, ID, REVISION_MARKER));
    await rm(join(dir, ID, 'onnx/embed_tokens.onnx'));
    hub.requests.length = 0;

    const fetched = await fetchMissingModels(dir, { endpoint: hub.endpoint });

    expect(hub.resolved().filter((r) => r.startsWith('GET'))).toEqual([
      `GET /${ID}/resolve/${REVISION}/onnx/embed_tokens.onnx`,
    ]);
    expect(fetched.find((m) => m.id === ID)?.downloaded).toEqual(['onnx/embed_tokens.onnx']);
    expect(existsSync(join(dir, ID, 'onnx/embed_tokens.onnx'))).toBe(true);
  });

  test('when a marker-less folder is incomplete, a file of the right size but the wrong bytes is fetched again', async () => {
    dir = await modelSet();
    await fetchMissingModels(dir, { endpoint: hub.endpoint });
    await rm(join(dir, ID, REVISION_MARKER));
    await rm(join(dir, ID, 'onnx/embed_tokens.onnx'));
    const damaged = join(dir, ID, 'onnx/vision_encoder.onnx');
    const bytes = await readFile(damaged);
    await writeFile(
      damaged,
      bytes.map((b) => b ^ 0xff),
    );
    hub.requests.length = 0;

    const fetched = await fetchMissingModels(dir, { endpoint: hub.endpoint });

    expect(fetched.find((m) => m.id === ID)?.downloaded).toEqual([
      'onnx/vision_encoder.onnx',
      'onnx/embed_tokens.onnx',
    ]);
    expect(new Uint8Array(await readFile(damaged))).toEqual(hubFiles['onnx/vision_encoder.onnx']);
  });

  test('a new pinned revision re-downloads everything, even files of the same size', async () => {
    const next = 'fedcba9876543210fedcba9876543210fedcba98';
    dir = await modelSet();
    await fetchMissingModels(dir, { endpoint: hub.endpoint });
    await hub.close();
    hub = await startFakeHub({ [ID]: { revision: next, files: hubFiles } });
    const manifestPath = join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
    (manifest.models.smol as ModelSpec).revision = next;
    await writeFile(manifestPath, JSON.stringify(manifest));

    const fetched = await fetchMissingModels(dir, { endpoint: hub.endpoint });

    expect(fetched.find((m) => m.id === ID)?.downloaded).toHaveLength(FILES.length);
    expect(JSON.parse(await readFile(join(dir, ID, REVISION_MARKER), 'utf8'))).toMatchObject({
      revision: next,
    });
  });

  test('by default only "fetch": "default" models are fetched; --all and --model <name> get the optional ones', async () => {
    // Prepare: the hub's model is optional
    dir = await modelSet((spec) => ({ ...spec, fetch: 'optional' }));
    vi.spyOn(console, 'log').mockImplementation(() => {});

    // Act + Assess: default fetch leaves it alone and asks the hub nothing
    const byDefault = await fetchMissingModels(dir, { endpoint: hub.endpoint });
    expect(byDefault.map((m) => m.id)).toEqual(['fixtures/florence2-colour']);
    expect(hub.requests).toEqual([]);

    // --model smol fetches it (through the CLI, as a user types it)
    expect(await fetchCli(['--models', dir, '--model', 'smol'], { HF_ENDPOINT: hub.endpoint })).toBe(0);
    expect(await listFiles(join(dir, ID))).toEqual([...FILES, REVISION_MARKER].sort());

    // --all covers every model; both are complete now
    const all = await fetchMissingModels(dir, { endpoint: hub.endpoint, models: 'all' });
    expect(all.map((m) => [m.id, m.downloaded])).toEqual([
      ['fixtures/florence2-colour', []],
      [ID, []],
    ]);
  });

  test('--model with a name the manifest lacks is refused, naming the names there are', async () => {
    dir = await modelSet();

    await expect(fetchMissingModels(dir, { endpoint: hub.endpoint, models: ['blip'] })).rejects.toThrow(
      'Expected model names among florence2, smol for --model but received "blip"',
    );
  });

  test('a file the hub does not have is a clear error naming it, and leaves no half files or marker', async () => {
    dir = await modelSet((spec) => ({ ...spec, files: [...FILES, 'chat_template.json'] }));

    const failure = fetchMissingModels(dir, { endpoint: hub.endpoint });

    await expect(failure).rejects.toThrow(
      /chat_template\.json of test-org\/smolvlm-colour at revision 0123456789abcdef0123456789abcdef01234567/,
    );
    await expect(failure).rejects.toThrow(/HTTP 404/);
    await expect(failure).rejects.toMatchObject({ name: 'ModelDownloadError', code: 'MODEL_NOT_FOUND' });
    expect(await listFiles(join(dir, ID))).toEqual([]);
  });

  test('a file whose bytes do not match the SHA-256 the hub announced is refused and not kept', async () => {
    await hub.close();
    hub = await startFakeHub({ [ID]: { revision: REVISION, files: hubFiles } }, { corruptCdn: true });
    dir = await modelSet();

    const failure = fetchMissingModels(dir, { endpoint: hub.endpoint });

    await expect(failure).rejects.toThrow(
      /Expected SHA-256 [0-9a-f]{64} for onnx\/\w+\.onnx of test-org\/smolvlm-colour/,
    );
    expect(
      (await listFiles(join(dir, ID))).filter((f) => f.endsWith('.onnx') || f.includes('.part')),
    ).toEqual([]);
  });

  test('a manifest whose files lack the chosen dtype is refused before any request', async () => {
    dir = await modelSet((spec) => ({ ...spec, files: FILES.filter((f) => !f.includes('decoder')) }));

    await expect(fetchMissingModels(dir, { endpoint: hub.endpoint })).rejects.toThrow(
      /onnx\/decoder_model_merged_quantized\.onnx/,
    );
    expect(hub.requests).toEqual([]);
  });
});

describe('fetchMissingModels offline', () => {
  let dir: string;

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    vi.restoreAllMocks();
  });

  test('a refused connection fails with one message naming the model, its revision and the folder to fill', async () => {
    dir = await modelSet();
    const endpoint = `http://127.0.0.1:${await closedPort()}`;

    const failure = fetchMissingModels(dir, { endpoint });

    await expect(failure).rejects.toMatchObject({ name: 'ModelsOfflineError', code: 'MODEL_NOT_FOUND' });
    const message = await failure.catch((error: Error) => error.message);
    expect(message).toContain('ECONNREFUSED');
    expect(message).toContain(`${ID} at revision ${REVISION}`);
    expect(message).toContain(`into ${join(dir, ID)}`);
    expect(message).toContain('onnx/decoder_model_merged_quantized.onnx');
    // the hand-filled fast model is complete: not listed
    expect(message).not.toContain('florence2-colour');
    expect(await listFiles(join(dir, ID))).toEqual([]);
  });

  test('a server that never answers counts as offline after the connect timeout', async () => {
    dir = await modelSet();
    const silent = await silentServer();
    try {
      await expect(
        fetchMissingModels(dir, { endpoint: silent.endpoint, connectTimeoutMs: 200 }),
      ).rejects.toThrow(/no answer in time.*offline/);
    } finally {
      await silent.close();
    }
  });

  test('a complete model set needs no network at all (the local stack starts offline)', async () => {
    dir = await modelSet();
    await cp(join(fixtureModelsDir(), 'fixtures/smolvlm-colour'), join(dir, ID), { recursive: true });
    await cp(
      join(dir, ID, 'onnx/decoder_model_merged.onnx'),
      join(dir, ID, 'onnx/decoder_model_merged_quantized.onnx'),
    );
    const endpoint = `http://127.0.0.1:${await closedPort()}`;

    const fetched = await fetchMissingModels({ modelsDir: dir, endpoint });

    expect(fetched.map((m) => m.downloaded)).toEqual([[], []]);
  });

  test('npm run models:fetch exits non-zero and prints the offline message on stderr', async () => {
    dir = await modelSet();
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => errors.push(line));
    vi.spyOn(console, 'log').mockImplementation(() => {});

    const code = await fetchCli(['--models', dir], { HF_ENDPOINT: `http://127.0.0.1:${await closedPort()}` });

    expect(code).toBe(1);
    expect(errors.join('\n')).toMatch(
      /looks offline[\s\S]*test-org\/smolvlm-colour at revision 0123456789abcdef/,
    );
  });
});
