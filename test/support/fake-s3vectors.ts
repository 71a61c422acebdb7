import {
  DeleteVectorsCommand,
  GetVectorsCommand,
  PutVectorsCommand,
  QueryVectorsCommand,
  S3VectorsClient,
} from '@aws-sdk/client-s3vectors';
import { mockClient } from 'aws-sdk-client-mock';

type Json = string | number | boolean | Json[] | { [key: string]: Json };
type Metadata = Record<string, Json>;
interface Stored {
  readonly data: number[];
  readonly metadata: Metadata;
}

/** The subset of S3 Vectors' filter language the adapter writes: $and, $eq (any element of a list), ranges. */
function matches(metadata: Metadata, filter: Record<string, Json>): boolean {
  return Object.entries(filter).every(([key, condition]) => {
    if (key === '$and') return (condition as Record<string, Json>[]).every((f) => matches(metadata, f));
    const value = metadata[key];
    const conditions =
      typeof condition === 'object' && condition !== null && !Array.isArray(condition)
        ? Object.entries(condition)
        : [['$eq', condition] as const];
    return conditions.every(([op, operand]) => {
      if (op === '$eq') return Array.isArray(value) ? value.includes(operand) : value === operand;
      if (op === '$exists') return (value !== undefined) === operand;
      if (typeof value !== 'number' || typeof operand !== 'number') return false;
      if (op === '$gt') return value > operand;
      if (op === '$gte') return value >= operand;
      if (op === '$lt') return value < operand;
      if (op === '$lte') return value <= operand;
      throw new Error(`the fake S3 Vectors does not know ${op}`);
    });
  });
}

function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i += 1) {
    dot += (a[i] ?? 0) * (b[i] ?? 0);
    na += (a[i] ?? 0) ** 2;
    nb += (b[i] ?? 0) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

/**
 * An S3 Vectors index behind aws-sdk-client-mock: what PutVectors wrote is kept (and captured),
 * QueryVectors answers by exact cosine over it with the request's metadata filter and top-K, and
 * returns the cosine distance as a cosine index does. Limits the real service enforces per call
 * (batch sizes, top-K) are checked, so a batching bug fails here too.
 */
export function fakeS3Vectors() {
  const mock = mockClient(S3VectorsClient);
  const vectors = new Map<string, Stored>();
  const calls = { put: [] as string[][], delete: [] as string[][], query: 0 };
  mock.on(PutVectorsCommand).callsFake((input) => {
    const batch = input.vectors ?? [];
    if (batch.length > 500) throw new Error(`PutVectors with ${batch.length} vectors (at most 500)`);
    calls.put.push(batch.map((v: { key: string }) => v.key));
    for (const v of batch) vectors.set(v.key, { data: [...v.data.float32], metadata: v.metadata ?? {} });
    return {};
  });
  mock.on(DeleteVectorsCommand).callsFake((input) => {
    const keys: string[] = input.keys ?? [];
    if (keys.length > 500) throw new Error(`DeleteVectors with ${keys.length} keys (at most 500)`);
    calls.delete.push(keys);
    for (const key of keys) vectors.delete(key);
    return {};
  });
  mock.on(GetVectorsCommand).callsFake((input) => {
    const keys: string[] = input.keys ?? [];
    if (keys.length > 100) throw new Error(`GetVectors with ${keys.length} keys (at most 100)`);
    return {
      vectors: keys.flatMap((key) => {
        const stored = vectors.get(key);
        if (!stored) return [];
        return [
          {
            key,
            ...(input.returnData ? { data: { float32: stored.data } } : {}),
            ...(input.returnMetadata ? { metadata: stored.metadata } : {}),
          },
        ];
      }),
    };
  });
  mock.on(QueryVectorsCommand).callsFake((input) => {
    calls.query += 1;
    if (input.topK < 1 || input.topK > 100) throw new Error(`QueryVectors with topK ${input.topK} (1..100)`);
    const query: number[] = input.queryVector.float32;
    const found = [...vectors.entries()]
      .filter(([, stored]) => !input.filter || matches(stored.metadata, input.filter))
      .map(([key, stored]) => ({ key, distance: 1 - cosine(query, stored.data) }))
      .sort((a, b) => a.distance - b.distance)
      .slice(0, input.topK);
    return { distanceMetric: 'cosine', vectors: found };
  });
  return { mock, client: new S3VectorsClient({ region: 'us-east-1' }), vectors, calls };
}
