import {
  PutVectorsCommand,
  QueryVectorsCommand,
  TooManyRequestsException,
  ValidationException,
} from '@aws-sdk/client-s3vectors';
import { afterEach, describe, expect, it } from 'vitest';
import { readVectorIndexTarget } from '#adapters/aws-config.ts';
import { S3VectorsIndex, vectorFilterOf } from '#adapters/s3-vectors-index.ts';
import { VectorIndexBusyError, VectorIndexRejectedError } from '#engine/ports.ts';
import { parseSearchQuery } from '#engine/search/query.ts';
import { describeVectorIndexContract, vectorEntry } from '#test/search/vector-index-contract.ts';
import { fakeS3Vectors } from '#test/support/fake-s3vectors.ts';

const target = { indexArn: 'arn:aws:s3vectors:us-east-1:123456789012:bucket/describer-vectors/index/images' };
let fake: ReturnType<typeof fakeS3Vectors> | undefined;

function open() {
  fake?.mock.restore();
  fake = fakeS3Vectors();
  return { fake, index: new S3VectorsIndex({ ...target, client: fake.client }) };
}

afterEach(() => {
  fake?.mock.restore();
  fake = undefined;
});

// The same contract as the local indexes, with the filters compiled to S3 Vectors' filter language.
describeVectorIndexContract('S3VectorsIndex (S3 Vectors mocked)', async () => open().index);

describe('S3VectorsIndex', () => {
  it('writes and deletes in batches of at most 500 vectors', async () => {
    // Prepare
    const { fake, index } = open();
    const entries = Array.from({ length: 1201 }, (_, i) => vectorEntry(`images/${i}.png`, [1, i, 0]));

    // Act
    await index.upsert(entries);
    await index.remove(entries.map((e) => e.key));

    // Assess
    expect(fake.calls.put.map((batch) => batch.length)).toEqual([500, 500, 201]);
    expect(fake.calls.delete.map((batch) => batch.length)).toEqual([500, 500, 201]);
    expect(fake.vectors.size).toBe(0);
  });

  it('asks for at most 100 neighbours (QueryVectors top-K), and one more when a key is left out', async () => {
    const { fake, index } = open();
    await index.upsert([vectorEntry('a.png', [1, 0, 0]), vectorEntry('b.png', [1, 1, 0])]);
    const q = Float32Array.from([1, 0, 0]);
    await index.nearest(q, { model: vectorEntry('x', [1]).model, limit: 200 });
    await index.nearest(q, { model: vectorEntry('x', [1]).model, limit: 1, excludeKey: 'a.png' });
    const topKs = fake.mock.commandCalls(QueryVectorsCommand).map((call) => call.args[0].input.topK);
    expect(topKs).toEqual([100, 2]);
  });

  it('reads an image vector back with its model for similar images, and nothing for an unknown key', async () => {
    const { index } = open();
    const entry = vectorEntry('images/red.png', [1, 0, 0]);
    await index.upsert([entry]);
    const stored = await index.vectorOf('images/red.png');
    expect(stored?.model).toBe(entry.model);
    expect(Array.from(stored?.vector ?? [])).toEqual(Array.from(entry.vector));
    expect(await index.vectorOf('images/unknown.png')).toBeUndefined();
  });

  it('stores the search facts as filterable metadata, with the upload time as a number', async () => {
    const { fake, index } = open();
    await index.upsert([
      vectorEntry('images/sign.png', [1, 0, 0], {
        facts: {
          uploadedAt: '2026-03-01T10:00:00.000Z',
          colours: { red: 0.6, white: 0.3 },
          labels: ['traffic light'],
          categories: [],
          hasText: true,
          fast: 'done',
          detailed: 'pending',
        },
      }),
    ]);
    const input = fake.mock.commandCalls(PutVectorsCommand)[0]?.args[0].input;
    expect(input?.indexArn).toBe(target.indexArn);
    const put = input?.vectors?.[0];
    expect(put?.metadata).toEqual({
      model: vectorEntry('x', [1]).model,
      uploadedAt: Date.parse('2026-03-01T10:00:00.000Z'),
      colour_red: 0.6,
      colour_white: 0.3,
      labels: ['traffic light'],
      hasText: true,
      fast: 'done',
      detailed: 'pending',
    });
  });

  it('compiles every search filter into one metadata filter', () => {
    const query = parseSearchQuery({
      q: 'sign',
      colour: 'red',
      colourMin: '0.2',
      label: 'Traffic Lights',
      category: 'street-scene',
      hasText: 'true',
      from: '2026-01-01',
      to: '2026-01-31',
      detailed: 'done',
    });
    expect(vectorFilterOf('m', query)).toEqual({
      $and: [
        { model: { $eq: 'm' } },
        { colour_red: { $gte: 0.2 } },
        { labels: { $eq: 'traffic light' } },
        { categories: { $eq: 'street scene' } },
        { hasText: { $eq: true } },
        { uploadedAt: { $gte: Date.parse('2026-01-01T00:00:00.000Z') } },
        { uploadedAt: { $lt: Date.parse('2026-02-01T00:00:00.000Z') } },
        { detailed: { $eq: 'done' } },
      ],
    });
    expect(vectorFilterOf('m', parseSearchQuery({ q: 'x' }))).toEqual({ model: { $eq: 'm' } });
  });

  it('names throttling (a retry may help) apart from a rejected request (it cannot)', async () => {
    const { fake, index } = open();
    fake.mock
      .on(QueryVectorsCommand)
      .rejectsOnce(
        new TooManyRequestsException({ message: 'Slow down', $metadata: { httpStatusCode: 429 } }),
      );
    fake.mock.on(PutVectorsCommand).rejectsOnce(
      new ValidationException({
        message: 'Invalid dimension',
        $metadata: { httpStatusCode: 400 },
        fieldList: [],
      }),
    );
    const q = Float32Array.from([1, 0, 0]);
    const busy = await index.nearest(q, { model: 'm', limit: 5 }).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(VectorIndexBusyError);
    expect(busy).toMatchObject({ code: 'VECTOR_INDEX_BUSY', permanent: false });
    const rejected = await index.upsert([vectorEntry('a.png', [1, 0])]).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(VectorIndexRejectedError);
    expect(rejected).toMatchObject({ code: 'VECTOR_INDEX_REJECTED', permanent: true });
    expect((rejected as Error).message).toContain('Invalid dimension');
  });

  it('refuses facts larger than S3 Vectors takes as filterable metadata, naming the image', async () => {
    const { fake, index } = open();
    const labels = Array.from({ length: 200 }, (_, i) => `label number ${i}`);
    const entry = vectorEntry('images/busy.png', [1, 0, 0]);
    const error = await index
      .upsert([{ ...entry, facts: { ...entry.facts, labels } }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VectorIndexRejectedError);
    expect((error as Error).message).toContain('images/busy.png');
    expect(fake.calls.put).toEqual([]);
  });

  it('reads the index ARN once from the environment and refuses anything else', () => {
    expect(readVectorIndexTarget({})).toBeUndefined();
    expect(readVectorIndexTarget({ VECTOR_INDEX_ARN: target.indexArn })).toEqual(target);
    expect(() => readVectorIndexTarget({ VECTOR_INDEX_ARN: 'describer-vectors/images' })).toThrow(
      /Expected an S3 Vectors index ARN .* for VECTOR_INDEX_ARN/,
    );
  });
});
