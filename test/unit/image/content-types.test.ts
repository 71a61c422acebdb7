import { describe, expect, it } from 'vitest';
import { contentTypeForFileName } from '#engine/image/content-types.ts';

describe('contentTypeForFileName', () => {
  it('names the image type of a known extension, whatever its case', () => {
    expect(contentTypeForFileName('/photos/trip/Beach.JPG')).toBe('image/jpeg');
    expect(contentTypeForFileName('scan.tif')).toBe('image/tiff');
    expect(contentTypeForFileName('logo.svg')).toBe('image/svg+xml');
  });

  it('gives nothing for an unknown extension or none at all', () => {
    expect(contentTypeForFileName('notes.txt')).toBeUndefined();
    expect(contentTypeForFileName('README')).toBeUndefined();
  });
});
