import type { ModelMode } from '#engine/models/index.ts';
import type { Colour, DescriptionRecord } from '#engine/record/index.ts';

const percent = (fraction: number) => `${Math.round(fraction * 100)}%`;

/**
 * The record as a person reads it in a terminal. `mode` fast: the detailed stage was not asked
 * for, so its "pending" is shown as that rather than as work in progress.
 */
export function formatRecord(name: string, record: DescriptionRecord, mode?: ModelMode): string {
  const lines: string[] = [];
  const image = record.image;
  const facts = image
    ? `${image.format} ${image.width}×${image.height}${image.orientation !== 1 ? `, EXIF orientation ${image.orientation}` : ''}${image.animated ? `, animated (${image.pages} frames, first described)` : ''}`
    : 'not decoded';
  lines.push(`${name}  (${facts})`);
  const failure = record.errors.fast ?? record.errors.detailed;
  if (record.status.fast.state === 'failed' && failure) {
    lines.push(`  failed:      ${failure.code}: ${failure.message}`);
    return lines.join('\n');
  }
  if (record.caption !== undefined) lines.push(`  caption:     ${record.caption}`);
  if (record.status.fast.state === 'waiting-for-models')
    lines.push('  caption:     (waiting for models: run npm run models:fetch)');
  if (record.detailedDescription !== undefined) lines.push(`  description: ${record.detailedDescription}`);
  else if (record.status.detailed.state === 'waiting-for-models')
    lines.push('  description: (waiting for models: run npm run models:fetch)');
  else if (mode === 'fast' && record.status.detailed.state === 'pending')
    lines.push('  description: (not requested: --mode normal adds the detailed description)');
  if (record.status.detailed.state === 'failed' && record.errors.detailed) {
    lines.push(`  description: failed: ${record.errors.detailed.code}: ${record.errors.detailed.message}`);
  }
  if (record.objects?.length) lines.push(`  objects:     ${objectCounts(record.objects)}`);
  if (record.colours?.length) {
    lines.push(`  colours:     ${colourFamilies(record.colours)}`);
  }
  if (record.text) {
    const text = record.text.full.trim();
    lines.push(`  text:        ${text ? text.split('\n').join(' / ') : '(none found)'}`);
  }
  for (const [id, answer] of Object.entries(record.answers ?? {})) {
    const shown = answer.error ? `(${answer.error.code}) ${answer.raw}`.trim() : String(answer.value);
    lines.push(`  answer ${id}: ${shown}`);
  }
  if (record.categories) {
    const categories = record.categories.map((c) => `${c.id} ${percent(c.score)}`);
    lines.push(`  categories:  ${categories.length ? categories.join(', ') : '(none matched)'}`);
  }
  // Contradicted claims are shown next to the text they question, never edited out of it.
  for (const check of record.checks ?? []) {
    if (check.verdict === 'contradicted') {
      lines.push(`  contradicted: ${check.field} says ${check.claim}; measured ${check.evidence}`);
    }
  }
  const timings = (['fast', 'detailed'] as const).flatMap((stage) => {
    const ms = record.timings[stage]?.totalMs;
    return ms === undefined ? [] : [`${stage} ${Math.round(ms)} ms`];
  });
  if (timings.length) lines.push(`  timings:     ${timings.join(', ')}`);
  return lines.join('\n');
}

/**
 * "gray 58% (light gray, dark gray), red 30%": the palette merged by family, largest first, with
 * the finer names a family was made of (when they say more than the family).
 */
export function colourFamilies(colours: readonly Colour[]): string {
  const families = new Map<string, { fraction: number; names: Set<string> }>();
  for (const { family, name, fraction } of colours) {
    const entry = families.get(family) ?? { fraction: 0, names: new Set<string>() };
    entry.fraction += fraction;
    if (name !== family) entry.names.add(name);
    families.set(family, entry);
  }
  return [...families]
    .sort((a, b) => b[1].fraction - a[1].fraction)
    .map(
      ([family, { fraction, names }]) =>
        `${family} ${percent(fraction)}${names.size ? ` (${[...names].join(', ')})` : ''}`,
    )
    .join(', ');
}

/** "2 × dog, person": the detector's boxes counted per label, most first. */
function objectCounts(objects: NonNullable<DescriptionRecord['objects']>): string {
  const counts = new Map<string, number>();
  for (const { label } of objects) counts.set(label, (counts.get(label) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([label, count]) => (count > 1 ? `${count} × ${label}` : label))
    .join(', ');
}

export function firstError(record: DescriptionRecord): { code: string; message: string } | undefined {
  if (record.status.fast.state === 'failed') return record.errors.fast;
  if (record.status.detailed.state === 'failed') return record.errors.detailed;
  return undefined;
}
