import { describe, expect, it } from 'vitest';
import { sniffFormat } from '#engine/image/sniff.ts';
import { type ImageFixtureName, imageFixture } from '#test/fixtures/images.ts';

const ftyp = (major: string, ...compatible: string[]) => {
  const brands = [major, '\0\0\0\0', ...compatible].join('');
  const size = Buffer.alloc(4);
  size.writeUInt32BE(8 + brands.length);
  return Buffer.concat([size, Buffer.from(`ftyp${brands}`, 'latin1'), Buffer.alloc(64)]);
};

describe('sniffFormat: the format comes from the bytes', () => {
  it.each<[ImageFixtureName, string]>([
    ['solidRed', 'png'],
    ['solidRedJpeg', 'jpeg'],
    ['webp', 'webp'],
    ['avif', 'avif'],
    ['animatedGif', 'gif'],
    ['multiPageTiff', 'tiff'],
    ['svgSelfContained', 'svg'],
  ])('%s is %s', async (name, format) => {
    expect(sniffFormat(await imageFixture(name))).toEqual({ accepted: true, format });
  });

  it('reads an SVG after a BOM, an XML declaration, a comment and a DOCTYPE', () => {
    const svg = Buffer.from(
      '\ufeff<?xml version="1.0"?>\n<!-- drawn by hand -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<svg xmlns="http://www.w3.org/2000/svg"/>',
    );

    expect(sniffFormat(svg)).toEqual({ accepted: true, format: 'svg' });
  });

  it('tells AVIF (brand avif, compatible mif1) from HEIC (brand heic or mif1 alone)', () => {
    expect(sniffFormat(ftyp('mif1', 'avif', 'miaf'))).toEqual({ accepted: true, format: 'avif' });
    expect(sniffFormat(ftyp('mif1', 'heic'))).toMatchObject({
      accepted: false,
      detected: 'HEIC/HEIF (the iPhone photo format)',
    });
    expect(sniffFormat(ftyp('heix', 'mif1'))).toMatchObject({
      accepted: false,
      detected: 'HEIC/HEIF (the iPhone photo format)',
    });
  });

  it.each([
    [ftyp('isom', 'mp41'), 'an ISO media file (brand "isom", e.g. a video)'],
    [Buffer.from('BM\x36\x00\x0c\x00\x00\x00\x00\x00', 'latin1'), 'a BMP image'],
    [Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00]), 'a ZIP archive'],
    [Buffer.from('<!doctype html><html><body>hi</body></html>'), 'an HTML or XML document'],
    [Buffer.from('8BPS\x00\x01', 'latin1'), 'a Photoshop document (PSD)'],
  ])('names %#: %s', (bytes, detected) => {
    expect(sniffFormat(bytes)).toMatchObject({ accepted: false, detected });
  });
});
