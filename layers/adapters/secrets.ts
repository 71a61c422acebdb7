import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '#engine/errors.ts';

/**
 * The API key of a remote model in AWS: read once at cold start from the secret the stack names
 * (REMOTE_API_KEY_SECRET_ARN), never from a plain environment variable. A missing or empty secret
 * fails the cold start with what to do.
 */
export async function readSecretString(
  secretId: string,
  client: SecretsManagerClient = new SecretsManagerClient({}),
): Promise<string> {
  let value: string | undefined;
  try {
    value = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (error) {
    throw new ConfigError(
      `Could not read the remote model's API key from secret ${secretId}: ${(error as Error).name}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (!value?.trim()) {
    throw new ConfigError(
      `The secret ${secretId} holds no API key yet: put the key in it (aws secretsmanager put-secret-value --secret-id ${secretId} --secret-string <key>)`,
    );
  }
  return value.trim();
}
