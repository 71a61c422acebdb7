import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { MODELS_NOT_FETCHED } from '../../infra/describer-image.ts';
import { ImageDescriberStack } from '../../infra/image-describer-stack.ts';
import { cdkJsonContext, TEST_MODELS } from './synth.ts';

// TEST_MODELS name folders that are never fetched, as on a fresh clone before `npm run models:fetch`.
// Annotations are the stack's metadata from construction on; the CLI reports them after the synth
// and stops on any error, before building an asset.
function annotationsWithoutModels(requireModels: boolean | undefined) {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new ImageDescriberStack(app, 'Fresh', { models: TEST_MODELS, requireModels });
  const of = (type: string) =>
    stack.node.metadata.filter((entry) => entry.type === type).map((entry) => String(entry.data));
  return { warnings: of('aws:cdk:warning'), errors: of('aws:cdk:error') };
}

const missing = (id: string, target: string, fetch = 'npm run models:fetch') =>
  `models/${id} is missing: run "${fetch}" before deploying (the ${target} image bakes it in)`;

describe('a synth without the models', () => {
  it('only warns for each image, so cdk synth, the tests and CI synthesize without the models', () => {
    const { warnings, errors } = annotationsWithoutModels(undefined);

    expect(warnings).toEqual(
      expect.arrayContaining([
        `${missing(TEST_MODELS.normal.id, 'detailed')} [ack: ${MODELS_NOT_FETCHED}]`,
        `${missing(TEST_MODELS.fast.id, 'fast')} [ack: ${MODELS_NOT_FETCHED}]`,
      ]),
    );
    expect(errors).toEqual([]);
  });

  it('is an error with requireModels (npm run deploy), which stops the CLI before any image build', () => {
    const { warnings, errors } = annotationsWithoutModels(true);

    // The fast image also carries the embedding model: its folder is required as well.
    expect([...errors].sort()).toEqual(
      [
        missing(TEST_MODELS.normal.id, 'detailed'),
        missing(TEST_MODELS.fast.id, 'fast'),
        missing(TEST_MODELS.embedding.id, 'fast'),
      ].sort(),
    );
    expect(warnings.filter((warning) => warning.includes('is missing'))).toEqual([]);
  });
});
