/**
 * Format detection from the bytes themselves (never a file name or a declared content type).
 * Only the accepted formats go on to a decoder; everything else is named so the user knows what
 * they sent and what to convert it to.
 */

export const ACCEPTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'svg'] as const;
export type AcceptedFormat = (typeof ACCEPTED_FORMATS)[number];

export type Sniffed =
  | { readonly accepted: true; readonly format: AcceptedFormat }
  | { readonly accepted: false; readonly detected: string; readonly advice: string };

const CONVERT = 'convert it to JPEG or PNG';

const startsWith = (bytes: Uint8Array, prefix: readonly number[], at = 0) =>
  bytes.length >= at + prefix.length && prefix.every((byte, i) => bytes[at + i] === byte);

const ascii = (bytes: Uint8Array, start: number, end: number) =>
  Buffer.from(
    bytes.buffer,
    bytes.byteOffset + start,
    Math.max(0, Math.min(end, bytes.length) - start),
  ).toString('latin1');

/** Brands of an ISO-BMFF `ftyp` box (major first), or undefined when the bytes have none. */
function ftypBrands(bytes: Uint8Array): string[] | undefined {
  if (bytes.length < 16 || ascii(bytes, 4, 8) !== 'ftyp') return undefined;
  const boxSize = Buffer.from(bytes.buffer, bytes.byteOffset, 4).readUInt32BE(0);
  const end = Math.min(Math.max(boxSize, 16), bytes.length, 4096);
  const brands = [ascii(bytes, 8, 12)];
  for (let at = 16; at + 4 <= end; at += 4) brands.push(ascii(bytes, at, at + 4));
  return brands;
}

const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs', 'mif1', 'msf1']);

const SVG_START =
  /^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--[\s\S]*?-->\s*)*(?:<!DOCTYPE[^>[]*(?:\[[\s\S]*?\])?\s*>\s*)?(?:<!--[\s\S]*?-->\s*)*<svg[\s>/]/i;

/** True when the first KB is text: no NULs and almost no control characters. */
function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, 1024);
  let control = 0;
  for (const byte of head) {
    if (byte === 0) return false;
    if (byte < 0x09 || (byte > 0x0d && byte < 0x20)) control++;
  }
  return control <= head.length / 100;
}

function textHead(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 4096)).toString('utf8');
  return head.charCodeAt(0) === 0xfeff ? head.slice(1) : head;
}

const hexHead = (bytes: Uint8Array) =>
  Array.from(bytes.subarray(0, 8), (byte) => byte.toString(16).padStart(2, '0')).join(' ');

export function sniffFormat(bytes: Uint8Array): Sniffed {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { accepted: true, format: 'jpeg' };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    return { accepted: true, format: 'png' };
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a')
    return { accepted: true, format: 'gif' };
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP')
    return { accepted: true, format: 'webp' };
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]))
    return { accepted: true, format: 'tiff' };
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b]))
    return { accepted: true, format: 'tiff' }; // BigTIFF

  const brands = ftypBrands(bytes);
  if (brands) {
    if (brands.includes('avif') || brands.includes('avis')) return { accepted: true, format: 'avif' };
    if (brands.some((brand) => HEIC_BRANDS.has(brand)))
      return {
        accepted: false,
        detected: 'HEIC/HEIF (the iPhone photo format)',
        advice:
          'convert it to JPEG first (on an iPhone: Settings > Camera > Formats > Most Compatible; or export as JPEG)',
      };
    return {
      accepted: false,
      detected: `an ISO media file (brand "${brands[0]?.trim()}", e.g. a video)`,
      advice: 'send a still image (JPEG, PNG, WebP, GIF, TIFF or AVIF)',
    };
  }

  if (ascii(bytes, 0, 5) === '%PDF-')
    return { accepted: false, detected: 'a PDF document', advice: 'export the page as PNG or JPEG' };
  if (ascii(bytes, 0, 2) === 'BM') return { accepted: false, detected: 'a BMP image', advice: CONVERT };
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00]))
    return { accepted: false, detected: 'an ICO icon', advice: 'convert it to PNG' };
  if (ascii(bytes, 0, 4) === '8BPS')
    return { accepted: false, detected: 'a Photoshop document (PSD)', advice: CONVERT };
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20]))
    return { accepted: false, detected: 'a JPEG XL image', advice: CONVERT };
  if (
    startsWith(bytes, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20]) ||
    startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])
  )
    return { accepted: false, detected: 'a JPEG 2000 image', advice: CONVERT };
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04]))
    return { accepted: false, detected: 'a ZIP archive', advice: 'unpack it and send the images one by one' };
  if (startsWith(bytes, [0x1f, 0x8b]))
    return { accepted: false, detected: 'gzip-compressed data', advice: 'decompress it first' };

  if (looksLikeText(bytes)) {
    const head = textHead(bytes);
    if (SVG_START.test(head)) return { accepted: true, format: 'svg' };
    if (/^\s*</.test(head))
      return { accepted: false, detected: 'an HTML or XML document', advice: 'send the image itself' };
    return { accepted: false, detected: 'plain text', advice: 'send the image itself, not a text file' };
  }
  return {
    accepted: false,
    detected: `unrecognised binary data (starting ${hexHead(bytes)})`,
    advice: 'send a JPEG, PNG, WebP, GIF, TIFF or AVIF image',
  };
}
