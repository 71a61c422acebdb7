import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImageRejectedError } from '#engine/errors.ts';
import { descriptionRecordJsonSchema } from '#engine/record/json-schema.ts';
import { failedRecord, newRecord, readStoredRecord, validateRecord } from '#engine/record/record.ts';

const now = new Date('2026-11-25T12:00:00.000Z');
const source = { kind: 'file' as const, path: 'photo.jpg', size: 10 };

describe('description record schema v2', () => {
  it('keeps the checked-in JSON Schema identical to the one generated from the TypeScript schema', () => {
    const checkedIn = JSON.parse(
      readFileSync(
        new URL('../../../layers/engine/record/description-record.schema.json', import.meta.url),
        'utf8',
      ),
    );
    expect(checkedIn, 'run `npm run schema` after changing record/schema.ts').toEqual(
      descriptionRecordJsonSchema(),
    );
  });

  it('starts a record with both stages pending', () => {
    const record = newRecord(source, now);

    expect(record.schemaVersion).toBe(2);
    expect(record.status.fast).toEqual({ state: 'pending', updatedAt: '2026-11-25T12:00:00.000Z' });
    expect(record.status.detailed.state).toBe('pending');
  });

  it('reads a sidecar written by schema v1 as v2, keeping every field', () => {
    const v1 = { ...newRecord(source, now), schemaVersion: 1, caption: 'a red square' };

    const read = readStoredRecord(v1);

    expect(read.schemaVersion).toBe(2);
    expect(read.caption).toBe('a red square');
    expect(read.source).toEqual(source);
  });

  it('refuses a sidecar of an unknown schema version', () => {
    expect(() => readStoredRecord({ ...newRecord(source, now), schemaVersion: 3 })).toThrow(/schemaVersion/);
  });

  it('rejects a record that breaks the schema and names the offending field', () => {
    const broken = {
      ...newRecord(source, now),
      colours: [{ hex: 'red', name: 'Red', family: 'red', fraction: 1 }],
    };

    expect(() => validateRecord(broken)).toThrow(/colours\.0\.hex/);
  });

  it('turns a fast-stage error into a failed record for both stages, keeping the code and message', () => {
    const error = new ImageRejectedError('UNSUPPORTED_FORMAT', 'Expected an image but received text');

    const record = failedRecord(newRecord(source, now), 'fast', error, now);

    expect(record.status.fast.state).toBe('failed');
    expect(record.status.detailed.state).toBe('failed');
    expect(record.errors.fast).toEqual({
      code: 'UNSUPPORTED_FORMAT',
      message: 'Expected an image but received text',
    });
  });

  it('keeps the fast result when only the detailed stage fails', () => {
    const fast = { ...newRecord(source, now), caption: 'a red square' };

    const record = failedRecord(
      { ...fast, status: { ...fast.status, fast: { state: 'done', updatedAt: now.toISOString() } } },
      'detailed',
      new Error('boom'),
      now,
    );

    expect(record.caption).toBe('a red square');
    expect(record.status.fast.state).toBe('done');
    expect(record.errors.detailed).toEqual({ code: 'INTERNAL', message: 'boom' });
  });
});
