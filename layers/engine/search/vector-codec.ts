import { expected, RecordValidationError } from '../errors.ts';
import type { Embedding } from '../record/schema.ts';

/** A unit vector as the record keeps it (schema.ts embeddingSchema): int8 of v × 127, base64. */
export function encodeEmbedding(vector: Float32Array): Embedding {
  const bytes = new Int8Array(vector.length);
  for (let i = 0; i < vector.length; i += 1) {
    bytes[i] = Math.max(-127, Math.min(127, Math.round((vector[i] ?? 0) * 127)));
  }
  return {
    dims: vector.length,
    encoding: 'int8',
    vector: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
  };
}

/** The record's embedding as a unit vector again (re-normalised: rounding moved its length a little). */
export function decodeEmbedding(embedding: Embedding): Float32Array {
  const bytes = Buffer.from(embedding.vector, 'base64');
  if (bytes.length !== embedding.dims) {
    throw new RecordValidationError(
      expected(`${embedding.dims} bytes`, 'embedding.vector', `${bytes.length} bytes`),
    );
  }
  const out = new Float32Array(embedding.dims);
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 1) {
    const v = (bytes.readInt8(i) as number) / 127;
    out[i] = v;
    sum += v * v;
  }
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < out.length; i += 1) out[i] = (out[i] ?? 0) / norm;
  return out;
}
