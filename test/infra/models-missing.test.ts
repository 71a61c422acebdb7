import { App } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MODELS_NOT_FETCHED } from '../../infra/describer-image.ts';
import { ImageDescriberStack } from '../../infra/image-describer-stack.ts';
import { cdkJsonContext, TEST_MODELS } from './synth.ts';

// TEST_MODELS name folders that are never fetched, as on a fresh clone before `npm run models:fetch`.
function annotationsWithoutModels(requireModels: boolean | undefined) {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new ImageDescriberStack(app, 'Fresh', { models: TEST_MODELS, requireModels });
  return Annotations.fromStack(stack);
}

const FAST_MISSING = Match.stringLikeRegexp(
  `^models/${TEST_MODELS.fast.id} is missing: run "npm run models:fetch" before deploying \\(the fast image bakes it in\\)`,
);

describe('a synth without the models', () => {
  it('warns for each image and still produces a template to review (cdk synth, tests, CI)', () => {
    const annotations = annotationsWithoutModels(undefined);
    annotations.hasWarning('/Fresh', FAST_MISSING);
    annotations.hasWarning('/Fresh', Match.stringLikeRegexp(`^models/${TEST_MODELS.normal.id} is missing`));
    annotations.hasNoError('*', Match.anyValue());
    expect(MODELS_NOT_FETCHED).toBe('image-describer:models-not-fetched');
  });

  it('is an error with requireModels (npm run deploy), which stops the CLI before any image build', () => {
    const annotations = annotationsWithoutModels(true);
    annotations.hasError('/Fresh', FAST_MISSING);
    annotations.hasError('/Fresh', Match.stringLikeRegexp(`^models/${TEST_MODELS.normal.id} is missing`));
    annotations.hasNoWarning('*', FAST_MISSING);
  });
});
