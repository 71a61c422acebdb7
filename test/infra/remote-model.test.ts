import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bedrockSpecSchema, openAiCompatibleSpecSchema } from '#engine/models/manifest.ts';
import { deriveRemoteDetailedSizing, deriveSizing } from '../../infra/sizing.ts';
import { allowedActions, logicalId, type Synthesized, synthesize, TEST_MODELS } from './synth.ts';

const bedrock = bedrockSpecSchema.parse({
  architecture: 'bedrock',
  modelId: 'amazon.nova-lite-v1:0',
  concurrency: 4,
});
const vllm = openAiCompatibleSpecSchema.parse({
  architecture: 'openai-compatible',
  endpoint: 'https://vlm.example.com/v1',
  model: 'Qwen/Qwen2.5-VL-7B-Instruct',
  apiKeyEnv: 'VLM_API_KEY',
});

const withRemote = (remote: typeof bedrock | typeof vllm) => ({
  ...TEST_MODELS,
  normal: { id: 'remote/vlm', version: JSON.stringify(remote), remote },
});

function worker(synth: Synthesized) {
  const id = logicalId(synth.stack, synth.stack.detailedWorker.fn);
  const resource = synth.template.toJSON().Resources[id];
  const allowed = allowedActions(
    synth.template,
    logicalId(synth.stack, synth.stack.detailedWorker.identity.role),
  );
  return { id, properties: resource.Properties, env: resource.Properties.Environment.Variables, allowed };
}

describe('a bedrock detailed model', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize({ models: withRemote(bedrock) }, { bundle: false });
  });
  afterAll(() => synth.cleanup());

  it('lets the worker invoke that model only, cdk-nag clean', () => {
    const { allowed } = worker(synth);

    expect(allowed.get('bedrock:InvokeModel')).toEqual([
      'arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/amazon.nova-lite-v1:0',
    ]);
    expect([...allowed.keys()].filter((action) => action.startsWith('bedrock:'))).toEqual([
      'bedrock:InvokeModel',
    ]);
    expect([...allowed.keys()].some((action) => action.startsWith('secretsmanager:'))).toBe(false);
    expect(synth.nagViolations).toEqual([]);
  });

  it('sizes the worker without model memory, with a timeout for the retries, and caps the deployment at the concurrency', () => {
    const { properties, env } = worker(synth);
    const expected = deriveRemoteDetailedSizing({ ...bedrock, requestsPerImage: 1 });

    expect(properties.MemorySize).toBe(expected.memoryMB);
    expect(properties.MemorySize).toBeLessThan(deriveSizing().detailed.memoryMB);
    expect(properties.Timeout).toBe(expected.timeoutSeconds);
    expect(env.ORT_THREADS).toBe('1');
    synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: worker(synth).id },
      ScalingConfig: { MaximumConcurrency: 4 },
    });
  });
});

describe('a bedrock cross-region inference profile', () => {
  it('grants the profile and the one model it routes to, with the wildcard region acknowledged', () => {
    const profile = { ...bedrock, modelId: 'us.amazon.nova-lite-v1:0' };
    const synth = synthesize({ models: withRemote(profile) }, { bundle: false });
    try {
      expect(worker(synth).allowed.get('bedrock:InvokeModel')).toEqual([
        'arn:<AWS::Partition>:bedrock:*::foundation-model/amazon.nova-lite-v1:0',
        'arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:inference-profile/us.amazon.nova-lite-v1:0',
      ]);
      expect(synth.nagViolations).toEqual([]);
    } finally {
      synth.cleanup();
    }
  });
});

describe('an openai-compatible detailed model with an API key', () => {
  it('makes a secret for the key, lets the worker read only it, and names it in the environment', () => {
    const synth = synthesize({ models: withRemote(vllm) }, { bundle: false });
    try {
      const { allowed, env } = worker(synth);
      const secret = logicalId(synth.stack, synth.stack.detailedWorker.apiKeySecret as never);

      synth.template.resourceCountIs('AWS::SecretsManager::Secret', 1);
      expect(env.REMOTE_API_KEY_SECRET_ARN).toEqual({ Ref: secret });
      expect(allowed.get('secretsmanager:GetSecretValue')).toEqual([`<${secret}>`]);
      expect([...allowed.keys()].some((action) => action.startsWith('bedrock:'))).toBe(false);
      expect(synth.nagViolations).toEqual([]);
    } finally {
      synth.cleanup();
    }
  });

  it('uses an existing secret given by ARN instead of making one', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:vlm-key-AbCdEf';
    const synth = synthesize({ models: withRemote(vllm), remoteApiKeySecretArn: arn }, { bundle: false });
    try {
      synth.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
      expect(worker(synth).env.REMOTE_API_KEY_SECRET_ARN).toBe(arn);
      expect(worker(synth).allowed.get('secretsmanager:GetSecretValue')).toEqual([arn]);
      expect(synth.nagViolations).toEqual([]);
    } finally {
      synth.cleanup();
    }
  });
});

describe('deriveRemoteDetailedSizing', () => {
  it('with the manifest defaults: 1769 MB (one vCPU, no model weights) and 540 s, as docs/models.md says', () => {
    const defaults = bedrockSpecSchema.parse({ architecture: 'bedrock', modelId: 'amazon.nova-lite-v1:0' });

    const sizing = deriveRemoteDetailedSizing({ ...defaults, requestsPerImage: 1 });

    expect({
      memoryMB: sizing.memoryMB,
      threads: sizing.threads,
      timeoutSeconds: sizing.timeoutSeconds,
    }).toEqual({
      memoryMB: 1769,
      threads: 1,
      timeoutSeconds: 540,
    });
  });

  it('grows the timeout with each question the remote model answers, up to the Lambda maximum', () => {
    const one = deriveRemoteDetailedSizing({ timeoutMs: 30_000, maxRetries: 1, requestsPerImage: 1 });
    const three = deriveRemoteDetailedSizing({ timeoutMs: 30_000, maxRetries: 1, requestsPerImage: 3 });
    const many = deriveRemoteDetailedSizing({ timeoutMs: 60_000, maxRetries: 3, requestsPerImage: 20 });

    expect(three.timeoutSeconds).toBeGreaterThan(one.timeoutSeconds);
    expect(many.timeoutSeconds).toBe(900);
  });
});
