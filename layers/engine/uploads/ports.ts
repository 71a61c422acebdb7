/**
 * The presigning port: the upload use case says what the POST policy must pin; the adapter
 * (layers/adapters/s3-upload-signer.ts) signs it and is the only code that touches the SDK.
 */

/** A POST policy condition, as S3 spells them. */
export type PostPolicyCondition =
  | Readonly<Record<string, string>>
  | readonly ['eq', string, string]
  | readonly ['starts-with', string, string]
  | readonly ['content-length-range', number, number];

export interface PresignPostRequest {
  /** The exact object key the form may write. */
  readonly key: string;
  /** Conditions beyond the key, bucket and X-Amz-* fields the signer adds itself. */
  readonly conditions: readonly PostPolicyCondition[];
  /** Form fields the client must send back unchanged (the policy pins each of them). */
  readonly fields: Readonly<Record<string, string>>;
  readonly expiresInSeconds: number;
}

export interface PresignedPost {
  /** Where to POST the multipart form. */
  readonly url: string;
  /** Every form field to send before the file: key, Policy, X-Amz-*, Content-Type, metadata. */
  readonly fields: Readonly<Record<string, string>>;
}

export interface UploadSigner {
  presignPost(request: PresignPostRequest): Promise<PresignedPost>;
}
