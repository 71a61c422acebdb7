import { intakeImage } from '#engine/image/intake.ts';
import { dominantColours } from '#engine/palette/palette.ts';
import { newRecord } from '#engine/record/record.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';

/** A record with the palette really measured from `bytes` (as the fast stage does), plus `fields`. */
export async function measuredRecord(
  bytes: Uint8Array,
  fields: Partial<DescriptionRecord> = {},
): Promise<DescriptionRecord> {
  const { image, facts } = await intakeImage(bytes, {
    maxInputBytes: 10_000_000,
    maxInputPixels: 10_000_000,
    workingSize: 512,
  });
  const base = newRecord({ kind: 'file', path: 'fixture.png', size: bytes.length }, new Date(0));
  return { ...base, image: facts, colours: dominantColours(image), ...fields };
}

/** A record carrying only what the test names: colours, text and objects unmeasured unless given. */
export function recordWith(fields: Partial<DescriptionRecord>): DescriptionRecord {
  return { ...newRecord({ kind: 'file', path: 'x.png', size: 1 }, new Date(0)), ...fields };
}
