import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { PutVectorsCommand, QueryVectorsCommand, TooManyRequestsException } from '@aws-sdk/client-s3vectors';
import { SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readAwsConfig } from '#adapters/aws-runtime.ts';
import { RESULT_COLUMNS } from '#engine/search/athena-sql.ts';
import { ENV } from '#engine/settings.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { fakeS3Vectors } from '#test/support/fake-s3vectors.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import {
  createDetailedHandler,
  createFastHandler,
  type FastLambda,
} from '../../../functions/aws/handlers.ts';
import { createSearchApi, readSearchApiConfig } from '../../../functions/aws/search-api-handler.ts';
import { apiEvent, bodyOf } from '../api/support.ts';
import {
  BUCKET,
  fakeS3,
  fakeSqs,
  QUEUE_URL,
  quietObservability,
  s3Event,
  sqsEvent,
  sqsRecord,
} from './fakes.ts';

/**
 * Search by meaning in AWS through the deployed factories: the fast function (real engine, the
 * known-answer models) writes each image's vector to S3 Vectors; the search function embeds the
 * query with the fixture's text tower and fuses S3 Vectors' neighbours with Athena's keyword rows.
 * S3, SQS, Athena and S3 Vectors are mocked; the S3 Vectors mock answers QueryVectors by cosine
 * over exactly what PutVectors received, so the ranking is that of the real vectors.
 */

const athena = mockClient(AthenaClient);

function env(modelsDir: string) {
  return {
    [ENV.MODELS_DIR]: modelsDir,
    [ENV.OCR_STAGE]: 'off',
    [ENV.BUCKET_NAME]: BUCKET,
    [ENV.DETAILED_QUEUE_URL]: QUEUE_URL,
    [ENV.VECTOR_INDEX_ARN]: 'arn:aws:s3vectors:us-east-1:123456789012:bucket/describer-vectors/index/images',
    [ENV.SEARCH_WORKGROUP]: 'describer-search',
    [ENV.SEARCH_DATABASE]: 'describer_search',
    [ENV.SEARCH_TABLE]: 'descriptions',
  };
}

/** Athena answers with these keyword rows (the columns the search SQL selects). */
function athenaAnswers(rows: Array<Partial<Record<(typeof RESULT_COLUMNS)[number], string>>>) {
  const cells = (values: Partial<Record<string, string>>) => ({
    Data: RESULT_COLUMNS.map((name) => (values[name] === undefined ? {} : { VarCharValue: values[name] })),
  });
  athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
  athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  athena.on(GetQueryResultsCommand).resolves({
    ResultSet: {
      ResultSetMetadata: { ColumnInfo: RESULT_COLUMNS.map((Name) => ({ Name, Type: 'varchar' })) },
      Rows: [{ Data: RESULT_COLUMNS.map((name) => ({ VarCharValue: name })) }, ...rows.map(cells)],
    },
  });
}

function search(query: string) {
  return {
    ...apiEvent({ routeKey: 'GET /search', method: 'GET', rawPath: '/search' }),
    rawQueryString: query,
  };
}

function removed(key: string) {
  return s3Event([{ key, etag: '', eventName: 'ObjectRemoved:Delete' }]);
}

describe('search by meaning in AWS (fast function → S3 Vectors → search function)', () => {
  let s3: ReturnType<typeof fakeS3>;
  let sqs: ReturnType<typeof fakeSqs>;
  let vectors: ReturnType<typeof fakeS3Vectors>;
  let fast: FastLambda;
  let noModelsDir: string;
  const clients = () => ({
    s3: new S3Client({ region: 'us-east-1' }),
    sqs: new SQSClient({ region: 'us-east-1' }),
    s3vectors: vectors.client,
  });

  beforeAll(async () => {
    noModelsDir = mkdtempSync(join(tmpdir(), 'no-clip-'));
    // The manifest names the embedding model, but its files are not there.
    copyFileSync(join(fixtureModelsDir(), 'manifest.json'), join(noModelsDir, 'manifest.json'));
  });
  afterAll(() => {
    rmSync(noModelsDir, { recursive: true, force: true });
    athena.restore();
  });

  beforeEach(async () => {
    s3?.mock.restore();
    sqs?.mock.restore();
    vectors?.mock.restore();
    athena.reset();
    s3 = fakeS3();
    sqs = fakeSqs();
    vectors = fakeS3Vectors();
    fast = await createFastHandler(readAwsConfig(env(fixtureModelsDir()), 'fast'), {
      clients: clients(),
      observability: quietObservability(),
    });
    // Prepare: three uploads, described by the fast function
    const uploads = {
      'images/red.png': await imageFixture('solidRed'),
      'images/red-again.jpg': await imageFixture('solidRedJpeg'),
      'images/blue.png': await imageFixture('solidBlue'),
    };
    for (const [key, bytes] of Object.entries(uploads)) {
      await fast(
        s3Event([{ key, etag: s3.put(key, bytes, key.endsWith('.png') ? 'image/png' : 'image/jpeg') }]),
      );
    }
  });

  const searchApi = async (modelsDir = fixtureModelsDir()) =>
    createSearchApi(readSearchApiConfig(env(modelsDir)), {
      s3: new S3Client({ region: 'us-east-1' }),
      athena: new AthenaClient({ region: 'us-east-1' }),
      s3vectors: vectors.client,
      logger: quietObservability().logger,
    });

  it('the fast function puts each image vector with its search facts, after the sidecar', () => {
    expect([...vectors.vectors.keys()].sort()).toEqual([
      'images/blue.png',
      'images/red-again.jpg',
      'images/red.png',
    ]);
    const red = vectors.vectors.get('images/red.png');
    expect(red?.data).toHaveLength(s3.json('descriptions/red.png.json')?.embedding?.dims ?? -1);
    expect(red?.metadata).toMatchObject({ colour_red: 1, fast: 'done', detailed: 'pending', hasText: false });
    expect(red?.metadata.model).toMatch(/@/);
    expect(red?.metadata.uploadedAt).toBe(Date.parse(s3.json('descriptions/red.png.json')?.createdAt ?? ''));
  });

  it('`search crimson` lists the red images first and not the blue one, though no record holds the word', async () => {
    // Prepare: no sidecar contains "crimson", so Athena finds nothing
    athenaAnswers([]);
    const api = await searchApi();

    // Act
    const response = await api(search('q=crimson'));

    // Assess
    expect(response.statusCode).toBe(200);
    const body = bodyOf(response) as {
      mode: string;
      results: Array<{ key: string; caption?: string; similarity?: number }>;
    };
    expect(body.mode).toBe('hybrid');
    const keys = body.results.map((r) => r.key);
    expect(keys.slice(0, 2).sort()).toEqual(['images/red-again.jpg', 'images/red.png']);
    expect(keys).not.toContain('images/blue.png');
    expect(body.results[0]?.caption).toBe('a red square');
    expect(body.results[0]?.similarity).toBeGreaterThan(0.9);
  });

  it('applies the search filters in S3 Vectors too', async () => {
    const api = await searchApi();

    const response = await api(search(`similar=${encodeURIComponent('images/red.png')}&colour=blue`));

    const body = bodyOf(response) as { results: Array<{ key: string }> };
    expect(body.results.map((r) => r.key)).toEqual(['images/blue.png']);
    const filter = vectors.mock.commandCalls(QueryVectorsCommand)[0]?.args[0].input.filter;
    expect(JSON.stringify(filter)).toContain('colour_blue');
  });

  it('`similar=<key>` lists the nearest other images, the same picture first', async () => {
    const api = await searchApi();

    const response = await api(search(`similar=${encodeURIComponent('images/red.png')}`));

    const body = bodyOf(response) as { mode: string; results: Array<{ key: string; similarity: number }> };
    expect(response.statusCode).toBe(200);
    expect(body.mode).toBe('similar');
    expect(body.results.map((r) => r.key)).toEqual(['images/red-again.jpg', 'images/blue.png']);
    expect(body.results[0]?.similarity).toBeGreaterThan(body.results[1]?.similarity ?? 1);
    const unknown = await api(search('similar=images%2Fnever-uploaded.png'));
    expect(unknown.statusCode).toBe(400);
    expect(bodyOf(unknown)).toMatchObject({ error: { parameter: 'similar' } });
  });

  it('a removal event for an image that is still there (an old version deleted) keeps its vector', async () => {
    const before = [...vectors.vectors.keys()].sort();

    // Act: S3 sends ObjectRemoved:Delete when a noncurrent version is deleted; the image stays
    await fast(removed('images/red.png'));
    await fast(removed('descriptions/red-again.jpg.json'));

    // Assess
    expect([...vectors.vectors.keys()].sort()).toEqual(before);
    expect(before).toContain('images/red.png');
    expect(before).toContain('images/red-again.jpg');
  });

  it('deleting an image, or its sidecar, takes its vector out of the search', async () => {
    athenaAnswers([]);
    const api = await searchApi();

    // Act: the image is deleted; the other red image's sidecar is deleted
    s3.objects.delete('images/red.png');
    await fast(removed('images/red.png'));
    s3.objects.delete('descriptions/red-again.jpg.json');
    await fast(removed('descriptions/red-again.jpg.json'));

    // Assess
    expect([...vectors.vectors.keys()]).toEqual(['images/blue.png']);
    const body = bodyOf(await api(search('q=crimson'))) as { results: unknown[] };
    expect(body.results).toEqual([]);
  });

  it('the detailed worker puts the vector again with the facts it decides', async () => {
    const worker = await createDetailedHandler(readAwsConfig(env(fixtureModelsDir()), 'detailed'), {
      clients: clients(),
      observability: quietObservability(),
    });
    const job = sqs.sent.find((j) => j.key === 'images/red.png');

    const response = await worker(sqsEvent(sqsRecord('m-1', job)));

    expect(response.batchItemFailures).toEqual([]);
    expect(vectors.vectors.get('images/red.png')?.metadata).toMatchObject({ detailed: 'done' });
    expect(vectors.mock.commandCalls(PutVectorsCommand)).toHaveLength(4);
  });

  it('S3 Vectors throttling is a 503 with Retry-After, without its own reason', async () => {
    athenaAnswers([]);
    const api = await searchApi();
    vectors.mock.on(QueryVectorsCommand).rejects(
      new TooManyRequestsException({
        message: 'Rate exceeded for index arn:aws:s3vectors:…',
        $metadata: {},
      }),
    );

    const response = await api(search('q=crimson'));

    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('2');
    expect(bodyOf(response)).toMatchObject({ error: { code: 'VECTOR_INDEX_BUSY' } });
    expect(response.body).not.toContain('arn:aws:s3vectors');
  });

  it('without the embedding model, search answers by keywords and says so', async () => {
    athenaAnswers([
      {
        key: 'images/blue.png',
        uploaded_at: '2026-11-25T12:00:00.000Z',
        fast_state: 'done',
        detailed_state: 'pending',
        caption: 'a blue square',
        total_matches: '1',
      },
    ]);
    const api = await searchApi(noModelsDir);

    const response = await api(search('q=blue'));

    expect(response.statusCode).toBe(200);
    const body = bodyOf(response) as { mode: string; notice?: string; results: Array<{ key: string }> };
    expect(body.mode).toBe('keyword');
    expect(body.notice).toMatch(/Search by meaning is not available yet/);
    expect(body.results.map((r) => r.key)).toEqual(['images/blue.png']);
  });
});
