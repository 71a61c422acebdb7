/**
 * Client settings shared by the S3 and SQS adapters. In Lambda nothing is set and the SDK uses
 * the function's region and role. For loopback servers (tests, local stack) pass an endpoint:
 * path-style addressing is then forced (no `<bucket>.127.0.0.1` host names) and, if none are in
 * the environment, dummy credentials are used (local servers do not check signatures).
 */
export interface AwsClientOptions {
  readonly endpoint?: string;
  readonly region?: string;
}

export function awsClientConfig(options: AwsClientOptions = {}) {
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  if (!options.endpoint) return { region };
  const hasCredentials = Boolean(process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY);
  return {
    region,
    endpoint: options.endpoint,
    forcePathStyle: true,
    ...(hasCredentials ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  };
}
