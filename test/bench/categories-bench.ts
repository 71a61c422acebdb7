import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { categorise } from '#engine/categories/categorise.ts';
import type { DescribeEngine } from '#engine/engine.ts';
import { intakeImage } from '#engine/image/intake.ts';
import { type Category, parseQuestionsConfig } from '#engine/questions/config.ts';
import { parseAnswer } from '#engine/questions/parse.ts';
import { registryAsker } from '#engine/questions/stage.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { createEngine } from '#engine/wiring.ts';
import { buildFixtureModelSet } from '#models/fixtures/build.ts';
import { imageFixture } from '#test/fixtures/images.ts';

/**
 * Categories by scoring vs by a constrained VLM answer, in one run: `npx tsx test/bench/categories-bench.ts`.
 * - fixture: the six solid-colour images through the known-answer models (caption, palette), and the
 *   SmolVLM fixture asked to pick a category label;
 * - photos: /work/shared/photos (13 photos with a subject seen by eye) through the real palette and
 *   PP-OCRv4 text, with the fixture captioner (no real caption model can be downloaded here), and once
 *   more with the subject written by eye standing in for a caption (an upper bound for scoring).
 * Prints accuracy (expected category set equal to the chosen set) and median ms per image.
 */

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

const COLOUR_LIST = parseQuestionsConfig(
  {
    categories: ['red', 'green', 'blue', 'black', 'white', 'gray'].map((c) => ({
      id: `${c}-things`,
      label: `${c[0]?.toUpperCase()}${c.slice(1)} things`,
    })),
  },
  'bench',
).categories;

async function constrained(
  engine: DescribeEngine,
  record: DescriptionRecord,
  bytes: Buffer,
  list: readonly Category[],
) {
  const asker = await registryAsker(engine.models)();
  const { image } = await intakeImage(bytes, { maxInputBytes: 5e7, maxInputPixels: 1e8, workingSize: 768 });
  const options = [...list.map((c) => c.label), 'none'];
  const prompt = `Which one of these fits the image best: ${options.join(', ')}? Answer with one of them.`;
  const started = performance.now();
  const raw = await asker.ask(image, prompt);
  const ms = performance.now() - started;
  const parsed = parseAnswer({ id: 'category', prompt, type: 'one-of', options }, raw);
  const label = 'value' in parsed ? parsed.value : undefined;
  const chosen = list.filter((c) => c.label === label).map((c) => c.id);
  void record;
  return { chosen, ms, raw };
}

const same = (a: readonly string[], b: readonly string[]) =>
  JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

async function main(): Promise<void> {
  const dir = '/tmp/categories-bench-models';
  await buildFixtureModelSet(dir);
  const engine = await createEngine(readEngineSettings({ MODELS_DIR: dir, OCR_STAGE: 'fast' }));

  // Fixture images.
  const fixture = {
    scoring: [] as boolean[],
    vlm: [] as boolean[],
    scoringMs: [] as number[],
    vlmMs: [] as number[],
  };
  for (const colour of ['Red', 'Green', 'Blue', 'Black', 'White', 'Gray'] as const) {
    const bytes = await imageFixture(`solid${colour}`);
    const record = await engine.describeFast({ bytes, source: { kind: 'file', path: colour } });
    const started = performance.now();
    const scored = categorise(record, COLOUR_LIST).map((c) => c.id);
    fixture.scoringMs.push(performance.now() - started);
    const expected = [`${colour.toLowerCase()}-things`];
    fixture.scoring.push(same(scored.slice(0, 1), expected));
    const vlm = await constrained(engine, record, bytes, COLOUR_LIST);
    fixture.vlmMs.push(vlm.ms);
    fixture.vlm.push(same(vlm.chosen, expected));
  }
  const rate = (xs: boolean[]) => `${xs.filter(Boolean).length}/${xs.length}`;
  console.log('fixture (6 solid colours, top category):');
  console.log(
    `  scoring   ${rate(fixture.scoring)} right, median ${median(fixture.scoringMs).toFixed(3)} ms/image, no model`,
  );
  console.log(
    `  VLM pick  ${rate(fixture.vlm)} right, median ${median(fixture.vlmMs).toFixed(1)} ms/image (tiny fixture model; one generation per image)`,
  );

  // Photos with a subject seen by eye.
  const photos = '/work/shared/photos';
  const manifest = (await readFile(join(photos, 'MANIFEST.tsv'), 'utf8')).trim().split('\n').slice(1);
  const categories = parseQuestionsConfig(
    JSON.parse(await readFile('config/questions.json', 'utf8')),
    'config/questions.json',
  ).categories;
  // Reference categories by eye, from the subject column (default category list).
  const reference: Record<string, string[]> = {
    'darknet__data__dog.jpg': ['animals', 'vehicles'],
    'darknet__data__horses.jpg': ['animals'],
    'darknet__data__kite.jpg': ['people'],
    'gcompris-explore_farm_animals__animals__cat.webp': ['animals'],
    'gcompris-explore_farm_animals__animals__chicken.webp': ['animals'],
    'gcompris-explore_farm_animals__animals__cow.webp': ['animals'],
    'gcompris-explore_farm_animals__animals__dog.webp': ['animals'],
    'skimage__data__astronaut.png': ['people'],
    'skimage__data__chelsea.png': ['animals'],
    'skimage__data__coffee.png': ['food-and-drink'],
    'skimage__data__motorcycle_left.png': ['vehicles'],
    'skimage__data__page.png': ['documents'],
    'skimage__data__rocket.jpg': ['vehicles'],
  };
  const measured: boolean[] = [];
  const byEye: boolean[] = [];
  for (const line of manifest) {
    const [file, , , , , subject = ''] = line.split('\t');
    if (!file) continue;
    const bytes = await readFile(join(photos, file));
    const record = await engine.describeFast({ bytes, source: { kind: 'file', path: file } });
    const expected = reference[file] ?? [];
    const got = categorise(record, categories).map((c) => c.id);
    const eye = categorise({ ...record, caption: subject }, categories).map((c) => c.id);
    measured.push(same(got, expected));
    byEye.push(same(eye, expected));
    console.log(
      `  ${file.padEnd(54)} expected ${expected.join('+').padEnd(16)} measured ${got.join('+') || '-'} | subject as caption ${eye.join('+') || '-'}`,
    );
  }
  console.log('photos (13, exact category set):');
  console.log(`  scoring on what is measured here (palette, OCR, fixture caption): ${rate(measured)}`);
  console.log(`  scoring with the subject by eye as the caption (upper bound):     ${rate(byEye)}`);
  await engine.models.dispose();
}

await main();
