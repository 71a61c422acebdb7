import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClientConfig } from '#adapters/aws-config.ts';
import { currentModels } from '#adapters/aws-runtime.ts';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import type { DescribeEngine } from '#engine/engine.ts';
import { describeUploadedObject } from '#engine/pipeline/describe-uploaded-object.ts';
import type { DetailedJob } from '#engine/pipeline/detailed-job.ts';
import { keyLayout } from '#engine/pipeline/key-layout.ts';
import { objectsCreated } from '#engine/pipeline/s3-event.ts';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { UPLOAD_API_ROUTES } from '#engine/uploads/http-api.ts';
import { createEngine } from '#engine/wiring.ts';
import { imageFixture } from '#test/fixtures/images.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';
import { type HttpApiServer, startHttpApiServer } from '../../functions/local/http-api-adapter.ts';

/**
 * The upload flow on loopback: the deployed upload-api module behind the local HTTP adapter, a
 * browser-style multipart POST to a local S3 server with the returned url and fields, the S3
 * event into the fast stage with the tiny known-answer models, then the status the client polls.
 *
 * s3rver rather than moto: it runs in this process (no Python server to spawn and wait for),
 * accepts presigned POST forms, and emits the real S3 event record for the created object, which
 * is what drives the fast stage here. Neither s3rver nor moto enforces the POST policy or the
 * signature (a wrong key, type or size would be accepted), which is why the unit tests
 * (test/unit/api/create-upload.test.ts) decode the policy and check every condition and the signature.
 */
const BUCKET = 'describer-roundtrip';
const ENV = {
  BUCKET_NAME: BUCKET,
  INPUT_PREFIX: 'images/',
  SIDECAR_PREFIX: 'descriptions/',
  UPLOAD_MAX_BYTES: String(1024 * 1024),
  AWS_REGION: 'us-east-1',
  // s3rver knows one account (S3RVER) and refuses other access key ids; it checks no V4 signature.
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_ENDPOINT_URL_S3: '',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
};

let dataDir: string;
let s3rver: S3rver;
let api: HttpApiServer;
let engine: DescribeEngine;
let store: S3ObjectStore;
const events: S3Event[] = [];
const jobs: DetailedJob[] = [];
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'upload-roundtrip-'));
  s3rver = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory: dataDir,
    silent: true,
    configureBuckets: [{ name: BUCKET }],
  });
  const { port } = (await s3rver.run()) as AddressInfo;
  s3rver.on('event', (event: S3Event) => events.push(event));
  const endpoint = `http://127.0.0.1:${port}`;

  // The upload API exactly as deployed: it reads its configuration from the environment at import.
  for (const [name, value] of Object.entries({ ...ENV, AWS_ENDPOINT_URL_S3: endpoint })) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  const { handler } = await import('../../functions/aws/upload-api.ts');
  api = await startHttpApiServer(handler, { routes: [...UPLOAD_API_ROUTES], functionName: 'upload-api' });

  store = new S3ObjectStore({ bucket: BUCKET, client: new S3Client(awsClientConfig({ endpoint })) });
  engine = await createEngine(readEngineSettings({ MODELS_DIR: fixtureModelsDir(), OCR_STAGE: 'off' }), {
    preload: ['fast'],
  });
});

afterAll(async () => {
  await api?.close();
  await s3rver?.close();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface Ticket {
  id: string;
  url: string;
  fields: Record<string, string>;
  expiresAt: string;
}

async function status(id: string): Promise<{ id: string; status: string; record?: DescriptionRecord }> {
  const response = await fetch(`${api.url}/uploads/${id}`);
  expect(response.status).toBe(200);
  return (await response.json()) as { id: string; status: string; record?: DescriptionRecord };
}

/** The fast stage as the S3 notification would run it, with an in-memory detailed queue. */
async function runFastStage(event: S3Event) {
  const deps = {
    engine,
    store,
    queue: { send: async (job: DetailedJob) => void jobs.push(job) },
    layout: keyLayout({ inputPrefix: ENV.INPUT_PREFIX, sidecarPrefix: ENV.SIDECAR_PREFIX }),
    models: currentModels(engine),
    bucket: BUCKET,
  };
  return Promise.all(objectsCreated(event).map((created) => describeUploadedObject(deps, created)));
}

describe('upload round trip on loopback', () => {
  it('asks, uploads with the returned form, describes, and reports fast-done with the caption', async () => {
    // Prepare
    const image = await imageFixture('solidRedJpeg');

    // Act 1: ask for an upload
    const asked = await fetch(`${api.url}/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'red square.jpg', contentType: 'image/jpeg', size: image.length }),
    });

    // Assess 1: a ticket for our bucket on the local server, nothing stored yet
    expect(asked.status).toBe(201);
    const ticket = (await asked.json()) as Ticket;
    const key = `images/uploads/${ticket.id}`;
    expect(ticket.url).toBe(`${process.env.AWS_ENDPOINT_URL_S3}/${BUCKET}`);
    expect(ticket.fields.key).toBe(key);
    expect(await status(ticket.id)).toEqual({ id: ticket.id, status: 'uploading' });

    // Act 2: upload as a browser would: the fields first, the file last
    const form = new FormData();
    for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
    form.append('file', new Blob([new Uint8Array(image)], { type: 'image/jpeg' }), 'red square.jpg');
    const uploaded = await fetch(ticket.url, { method: 'POST', body: form });

    // Assess 2: the object arrived under the server-chosen key with our type and metadata
    expect(uploaded.status).toBeLessThan(300);
    const head = await store.head(key);
    expect(head).toMatchObject({
      key,
      size: image.length,
      contentType: 'image/jpeg',
      metadata: { 'original-filename': 'red square.jpg' },
    });
    expect(await status(ticket.id)).toEqual({ id: ticket.id, status: 'describing' });

    // Act 3: the S3 notification runs the fast stage
    expect(events).toHaveLength(1);
    const outcomes = await runFastStage(events[0] as S3Event);

    // Assess 3: the sidecar is written, the detailed job queued, and the client sees the caption
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['described']);
    expect(jobs).toEqual([
      { bucket: BUCKET, key, etag: head.etag, sidecarKey: `descriptions/uploads/${ticket.id}.json` },
    ]);
    const polled = await status(ticket.id);
    expect(polled.status).toBe('fast-done');
    expect(polled.record?.caption).toBe('a red square');
    expect(polled.record?.source).toMatchObject({ kind: 's3', bucket: BUCKET, key, etag: head.etag });
    expect(polled.record?.status.detailed.state).toBe('pending');
  });

  it('answers 404 for a malformed id and 400 for a type not accepted, over HTTP', async () => {
    const malformed = await fetch(`${api.url}/uploads/..%2Fdescriptions%2Fx.json`);
    const svg = await fetch(`${api.url}/uploads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'x.svg', contentType: 'image/svg+xml', size: 10 }),
    });

    expect(malformed.status).toBe(404);
    expect(svg.status).toBe(400);
    const { error } = (await svg.json()) as { error: { message: string; detail: string } };
    expect(error.message).toBe(
      'SVG drawings cannot be uploaded here: export the drawing as PNG and upload that.',
    );
    expect(error.detail).toContain('for contentType but received "image/svg+xml"');
  });
});
