import { describe, expect, it } from 'vitest';
import { DEFAULT_UPLOAD_MAX_BYTES, readUploadSettings, uploadSettings } from '#engine/uploads/settings.ts';

describe('upload settings', () => {
  it('reads bucket, prefixes and the maximum once, with defaults', () => {
    expect(readUploadSettings({ BUCKET_NAME: 'b' })).toEqual({
      bucket: 'b',
      layout: { inputPrefix: 'images/', sidecarPrefix: 'descriptions/' },
      maxBytes: DEFAULT_UPLOAD_MAX_BYTES,
      expiresInSeconds: 300,
    });
    expect(DEFAULT_UPLOAD_MAX_BYTES).toBe(20 * 1024 * 1024);
  });

  it.each([
    [
      { BUCKET_NAME: 'b', UPLOAD_MAX_BYTES: '0' },
      'Expected an integer >= 1 for UPLOAD_MAX_BYTES but received "0"',
    ],
    [
      { BUCKET_NAME: 'b', UPLOAD_MAX_BYTES: '1e3x' },
      'Expected an integer >= 1 for UPLOAD_MAX_BYTES but received "1e3x"',
    ],
    [{}, 'Expected a non-empty value for environment variable BUCKET_NAME but received nothing'],
  ])('refuses %j at start-up', (env, message) => {
    expect(() => readUploadSettings(env)).toThrow(message);
  });

  it('refuses an expiry over 5 minutes', () => {
    expect(() => uploadSettings({ bucket: 'b', expiresInSeconds: 301 })).toThrow(
      'Expected an integer from 1 to 300 for upload expiry seconds but received number 301',
    );
  });
});
