import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { expect, it } from 'vitest';
import { S3ObjectStore } from '#adapters/s3-object-store.ts';
import { CORPUS } from '../../search/cases.ts';

it('writes each sidecar as one JSON line, which is what the Athena JSON SerDe reads as one row', async () => {
  const s3 = mockClient(S3Client);
  s3.on(PutObjectCommand).resolves({ ETag: '"e1"' });
  const store = new S3ObjectStore({ bucket: 'b', client: new S3Client({ region: 'eu-west-1' }) });
  const record = CORPUS[0]?.record;

  await store.putJson('descriptions/red-sign.png.json', record);

  const body = String(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Body);
  expect(body.endsWith('\n')).toBe(true);
  expect(body.trimEnd().split('\n')).toHaveLength(1);
  expect(JSON.parse(body)).toEqual(record);
  s3.restore();
});
