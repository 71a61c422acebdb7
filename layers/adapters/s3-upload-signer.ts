import { S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import type { PresignedPost, PresignPostRequest, UploadSigner } from '#engine/ports.ts';
import { StorageUnavailableError } from '#engine/ports.ts';
import { type AwsClientOptions, awsClientConfig } from './aws-config.ts';

export interface S3UploadSignerOptions extends AwsClientOptions {
  readonly bucket: string;
  /** Share one client per process; created from the options when absent. */
  readonly client?: S3Client;
}

/**
 * The UploadSigner port on one bucket: presigned POST forms signed with the function's credentials
 * (no network call; the signature is computed locally). The SDK adds the bucket, key and X-Amz-*
 * conditions itself and turns each form field into an exact-match condition.
 */
export class S3UploadSigner implements UploadSigner {
  readonly bucket: string;
  readonly client: S3Client;

  constructor(options: S3UploadSignerOptions) {
    this.bucket = options.bucket;
    this.client = options.client ?? new S3Client(awsClientConfig(options));
  }

  async presignPost(request: PresignPostRequest): Promise<PresignedPost> {
    try {
      const post = await createPresignedPost(this.client, {
        Bucket: this.bucket,
        Key: request.key,
        // The SDK's condition type is mutable; ours is readonly.
        Conditions: request.conditions.map((condition) =>
          Array.isArray(condition) ? [...condition] : { ...condition },
        ) as Parameters<typeof createPresignedPost>[1]['Conditions'],
        Fields: { ...request.fields },
        Expires: request.expiresInSeconds,
      });
      return { url: post.url, fields: post.fields };
    } catch (error) {
      // Signing fails only when credentials or the region cannot be resolved.
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new StorageUnavailableError(`Presigning a POST for ${request.key} failed: ${message}`, {
        cause: error,
      });
    }
  }
}
