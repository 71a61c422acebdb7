import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { s3EventFor } from '#engine/pipeline/s3-event.ts';
import { type FastStageTrigger, type ObjectToDescribe, StorageUnavailableError } from '#engine/ports.ts';
import { type AwsClientOptions, awsClientConfig } from './aws-config.ts';

export interface LambdaFastTriggerOptions extends AwsClientOptions {
  /** Name or ARN of the deployed fast function (stack output). */
  readonly functionName: string;
  readonly client?: LambdaClient;
}

/**
 * Re-runs the fast stage in AWS: an asynchronous invoke (InvocationType Event) of the fast function
 * with the exact S3 event, so it takes the path an upload takes, with the same retries, maximum
 * event age and on-failure DLQ, and the models baked into the deployed image.
 */
export class LambdaFastTrigger implements FastStageTrigger {
  readonly client: LambdaClient;

  constructor(private readonly options: LambdaFastTriggerOptions) {
    this.client = options.client ?? new LambdaClient(awsClientConfig(options));
  }

  async trigger(object: ObjectToDescribe): Promise<void> {
    try {
      const out = await this.client.send(
        new InvokeCommand({
          FunctionName: this.options.functionName,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify(s3EventFor([object]))),
        }),
      );
      if (out.StatusCode !== 202) throw new Error(`status ${out.StatusCode}`);
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new StorageUnavailableError(`Invoke of ${this.options.functionName} failed: ${message}`, {
        cause: error,
      });
    }
  }
}
