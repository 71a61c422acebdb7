import { describe, expect, it } from 'vitest';
import { readAwsConfig, settingsForStage } from '#adapters/aws-runtime.ts';
import {
  DEFAULT_KEY_LAYOUT,
  decodeEventKey,
  inputKeyFor,
  isInputKey,
  readKeyLayout,
  sidecarKeyFor,
} from '#engine/pipeline/key-layout.ts';
import { encodeEventKey, objectsCreated } from '#engine/pipeline/s3-event.ts';

describe('key layout', () => {
  it('puts the sidecar of images/2026/cat.jpg at descriptions/2026/cat.jpg.json and back', () => {
    expect(sidecarKeyFor(DEFAULT_KEY_LAYOUT, 'images/2026/cat.jpg')).toBe('descriptions/2026/cat.jpg.json');
    expect(inputKeyFor(DEFAULT_KEY_LAYOUT, 'descriptions/2026/cat.jpg.json')).toBe('images/2026/cat.jpg');
    expect(inputKeyFor(DEFAULT_KEY_LAYOUT, 'images/cat.jpg')).toBeUndefined();
  });

  it('only keys under the input prefix are inputs: sidecars, other prefixes and folder markers are not', () => {
    expect(isInputKey(DEFAULT_KEY_LAYOUT, 'images/cat.jpg')).toBe(true);
    expect(isInputKey(DEFAULT_KEY_LAYOUT, 'descriptions/cat.jpg.json')).toBe(false);
    expect(isInputKey(DEFAULT_KEY_LAYOUT, 'imagesX/cat.jpg')).toBe(false);
    expect(isInputKey(DEFAULT_KEY_LAYOUT, 'images/2026/')).toBe(false);
    expect(() => sidecarKeyFor(DEFAULT_KEY_LAYOUT, 'descriptions/cat.jpg.json')).toThrow(
      'Expected a key under "images/" for input key but received "descriptions/cat.jpg.json"',
    );
  });

  it('reads the prefixes from the environment and refuses overlapping ones (recursion)', () => {
    expect(readKeyLayout({ INPUT_PREFIX: 'in/', SIDECAR_PREFIX: 'out/' })).toEqual({
      inputPrefix: 'in/',
      sidecarPrefix: 'out/',
    });
    expect(readKeyLayout({})).toEqual(DEFAULT_KEY_LAYOUT);
    expect(() => readKeyLayout({ INPUT_PREFIX: 'images/', SIDECAR_PREFIX: 'images/descriptions/' })).toThrow(
      'Expected a sidecar prefix disjoint from the input prefix "images/" for SIDECAR_PREFIX but received "images/descriptions/"',
    );
    expect(() => readKeyLayout({ INPUT_PREFIX: 'images' })).toThrow(/for INPUT_PREFIX but received "images"/);
  });

  it('decodes event keys: + is a space, then percent-decoding; encoding round-trips', () => {
    expect(decodeEventKey('images/my+photo%281%29.jpg')).toBe('images/my photo(1).jpg');
    expect(decodeEventKey('images%2F2026%2Fa%2Bb.jpg')).toBe('images/2026/a+b.jpg');
    for (const key of ['images/my photo(1).jpg', 'images/a+b & c/ü €.png', "images/it's*!.jpg"]) {
      expect(decodeEventKey(encodeEventKey(key))).toBe(key);
    }
  });

  it('reads ObjectCreated records only, not removals', () => {
    const record = (eventName: string, key: string) => ({
      eventName,
      s3: { bucket: { name: 'b' }, object: { key, eTag: '"e1"', size: 3 } },
    });
    const event = {
      Records: [record('ObjectCreated:Put', 'images/a.jpg'), record('ObjectRemoved:Delete', 'images/b.jpg')],
    };
    expect(objectsCreated(event)).toEqual([
      { bucket: 'b', key: 'images/a.jpg', etag: 'e1', size: 3, eventName: 'ObjectCreated:Put' },
    ]);
  });
});

describe('handler configuration (read once at cold start)', () => {
  it('fails with the variable name when BUCKET_NAME or the queue URL is missing', () => {
    expect(() => readAwsConfig({ DETAILED_QUEUE_URL: 'q' }, 'fast')).toThrow(
      'Expected a non-empty value for environment variable BUCKET_NAME but received nothing',
    );
    expect(() => readAwsConfig({ BUCKET_NAME: 'b' }, 'fast')).toThrow(
      'Expected a non-empty value for environment variable DETAILED_QUEUE_URL but received nothing',
    );
    expect(readAwsConfig({ BUCKET_NAME: 'b' }, 'detailed').targets).toEqual({ bucket: 'b' });
  });

  it('points both clients at a local server with AWS_ENDPOINT_URL', () => {
    const config = readAwsConfig(
      {
        BUCKET_NAME: 'b',
        DETAILED_QUEUE_URL: 'q',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
        OCR_STAGE: 'off',
      },
      'fast',
    );
    expect(config.targets).toMatchObject({
      s3Endpoint: 'http://127.0.0.1:4566',
      sqsEndpoint: 'http://127.0.0.1:4566',
    });
    expect(config.engine.ocrStage).toBe('off');
  });
});

describe('settingsForStage', () => {
  it('opens the OCR reader only in the function whose stage reads text', () => {
    const settings = readAwsConfig({ BUCKET_NAME: 'b', OCR_STAGE: 'fast' }, 'detailed').engine;
    expect(settingsForStage(settings, 'fast').ocrStage).toBe('fast');
    expect(settingsForStage(settings, 'detailed').ocrStage).toBe('off');
    const detailedOcr = { ...settings, ocrStage: 'detailed' as const };
    expect(settingsForStage(detailedOcr, 'detailed').ocrStage).toBe('detailed');
    expect(settingsForStage(detailedOcr, 'fast').ocrStage).toBe('off');
  });
});
