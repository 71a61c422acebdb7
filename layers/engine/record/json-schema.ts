import { z } from 'zod';
import { descriptionRecordSchema } from './schema.ts';

export function descriptionRecordJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(descriptionRecordSchema, { target: 'draft-2020-12' });
}
