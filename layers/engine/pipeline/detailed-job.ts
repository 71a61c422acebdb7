import { z } from 'zod';

/**
 * The SQS message the fast stage sends for the detailed stage: which object (at which ETag) to
 * describe and which sidecar to complete. The ETag pins the bytes: a newer upload has its own job.
 */
export const detailedJobSchema = z
  .object({
    bucket: z.string().min(1),
    key: z.string().min(1),
    /** ETag of the object the fast stage described, without quotes. */
    etag: z.string().min(1),
    sidecarKey: z.string().min(1),
  })
  .strict();

export type DetailedJob = z.infer<typeof detailedJobSchema>;
