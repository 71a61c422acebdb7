/**
 * Wording shared by every place that tells a person what went wrong: sizes and counts as people
 * read them ("30 MB", "10,000 megapixels"), never raw byte counts.
 */

/** 1 MB = 1024 × 1024 bytes, as file managers show sizes. */
export function readableBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 ? String(value) : String(Number(value.toFixed(value < 10 ? 1 : 0)));
  return `${shown} ${units[unit]}`;
}

export function readableMegapixels(pixels: number): string {
  const mp = pixels / 1_000_000;
  return `${mp >= 10 ? Math.round(mp).toLocaleString('en-US') : Number(mp.toFixed(1))} megapixels`;
}

/** What to say about a file over the byte limit, wherever it is caught (API, HEAD, intake). */
export function tooLargeSentence(size: number, limit: number): string {
  // "98 KB, over the limit of 98 KB" would read as a contradiction: then say the bytes.
  const [shownSize, shownLimit] =
    readableBytes(size) === readableBytes(limit)
      ? [`${size.toLocaleString('en-US')} bytes`, `${limit.toLocaleString('en-US')} bytes`]
      : [readableBytes(size), readableBytes(limit)];
  return `The file is ${shownSize}, over the limit of ${shownLimit}: make it smaller (for example, export it at a lower resolution or quality) and try again.`;
}

/** What to say about an image whose header declares more pixels than the limit. */
export function tooManyPixelsSentence(width: number, height: number, limit: number): string {
  const pixels = width * height;
  // "100 megapixels, over the limit of 100 megapixels" would read as a contradiction: then count them.
  const [shownSize, shownLimit] =
    readableMegapixels(pixels) === readableMegapixels(limit)
      ? [`${pixels.toLocaleString('en-US')} pixels`, `${limit.toLocaleString('en-US')} pixels`]
      : [readableMegapixels(pixels), readableMegapixels(limit)];
  return `The image is ${width} × ${height} pixels (${shownSize}), over the limit of ${shownLimit}: scale it down and try again.`;
}

/** What to say, once, about a stored description that was not JSON (it is replaced, not lost). */
export function keptAsideSentence(stored: string, keptAs: string, reason: string): string {
  return `The stored description ${stored} could not be read (${reason}); it was kept as ${keptAs} and the image is described again.`;
}

/** The same, said before the fast stage has run (a backfill hands the image on). */
export function toBeKeptAsideSentence(
  stored: string,
  keptAs: string,
  reason: string,
  options: { dryRun?: boolean } = {},
): string {
  const next = options.dryRun
    ? `a backfill without --dry-run would have the fast stage keep it as ${keptAs} and describe the image again`
    : `the fast stage keeps it as ${keptAs} and describes the image again`;
  return `The stored description ${stored} could not be read (${reason}); ${next}.`;
}
