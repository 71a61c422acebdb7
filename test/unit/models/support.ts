import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RgbImage } from '#engine/image/types.ts';
import type { ModelRunner, TaskRequest } from '#engine/models/runner.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';

export type Rgb = readonly [number, number, number];

export const COLOUR_RGB = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  black: [0, 0, 0],
  white: [255, 255, 255],
  gray: [128, 128, 128],
} as const satisfies Record<string, Rgb>;

/**
 * A "mostly <colour>" test image: the top `share` of the rows in the colour, the rest in `rest`,
 * at an odd size so that the processor's resize really runs.
 */
export function mostlyImage(
  colour: Rgb,
  share = 0.8,
  rest: Rgb = [255, 255, 255],
  width = 45,
  height = 37,
): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const split = Math.round(height * share);
  for (let y = 0; y < height; y++) {
    const rgb = y < split ? colour : rest;
    for (let x = 0; x < width; x++) data.set(rgb, (y * width + x) * 3);
  }
  return { data, width, height };
}

/** The same pixels with red and blue swapped (what a BGR mix-up would feed the model). */
export function channelSwapped(image: RgbImage): RgbImage {
  const data = Uint8Array.from(image.data);
  for (let i = 0; i < data.length; i += 3) [data[i], data[i + 2]] = [data[i + 2] ?? 0, data[i] ?? 0];
  return { ...image, data };
}

/** A private copy of the test model set, to break or edit without touching the shared one. */
export async function copyFixtureModelSet(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'models-a-'));
  await cp(fixtureModelsDir(), dir, { recursive: true });
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function editJson(file: string, edit: (value: Record<string, unknown>) => void): Promise<void> {
  const value = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  edit(value);
  await writeFile(file, JSON.stringify(value, null, 2));
}

/** The request each architecture's caption-like task makes in the fixture manifest. */
const DEFAULT_REQUESTS: Record<ModelRunner['architecture'], TaskRequest> = {
  florence2: { task: '<CAPTION>', generation: { max_new_tokens: 8 } },
  smolvlm: { prompt: 'Describe this image in detail.', generation: { max_new_tokens: 16 } },
  'vision-encoder-decoder': { generation: { max_new_tokens: 8 } },
  'openai-compatible': { prompt: 'Describe this image in detail.', generation: { max_new_tokens: 16 } },
  bedrock: { prompt: 'Describe this image in detail.', generation: { max_new_tokens: 16 } },
  clip: { generation: {} },
};

/** One text answer from a loaded model runner: its own vision pass, then the request. */
export async function textOf(runner: ModelRunner, image: RgbImage, request?: TaskRequest): Promise<string> {
  const answer = await runner.run(
    await runner.encode(image),
    request ?? DEFAULT_REQUESTS[runner.architecture],
  );
  if (answer.kind !== 'text') throw new Error(`Expected a text answer but received ${answer.kind}`);
  return answer.text;
}

/** The error a call fails with; fails the test when the call succeeds. */
export async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('Expected the call to fail');
}
