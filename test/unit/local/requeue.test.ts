import { describe, expect, it } from 'vitest';
import type { DescriptionRecord } from '#engine/record/schema.ts';
import { waitingFor } from '../../../functions/local/requeue.ts';

/** What re-arms the stack's model check: a stage waiting for models, or an answer waiting for its model. */
const model = {
  id: 'fixtures/smolvlm-colour',
  revision: 'fixture-v1',
  architecture: 'smolvlm',
  dtype: 'fp32',
  promptHash: 'x',
};

function record(
  states: { fast: string; detailed: string },
  answers?: DescriptionRecord['answers'],
): DescriptionRecord {
  return {
    status: { fast: { state: states.fast }, detailed: { state: states.detailed } },
    ...(answers ? { answers } : {}),
  } as unknown as DescriptionRecord;
}

describe('waitingFor', () => {
  it('sees a stage waiting for models', () => {
    expect(waitingFor(record({ fast: 'waiting-for-models', detailed: 'pending' }))).toEqual({
      stages: true,
      answers: false,
    });
  });

  it('sees an answer waiting for the questions model while both stages are done', () => {
    const waiting = record(
      { fast: 'done', detailed: 'done' },
      {
        colour: { raw: '', model, error: { code: 'MODEL_NOT_FOUND', message: 'no smolvlm' } },
        shape: { raw: 'square', value: 'square', model },
      },
    );

    expect(waitingFor(waiting)).toEqual({ stages: false, answers: true });
  });

  it('does not wait on a finished record, an unparseable answer or no record', () => {
    const done = record(
      { fast: 'done', detailed: 'done' },
      { colour: { raw: '??', model, error: { code: 'UNPARSEABLE_ANSWER', message: 'not a number' } } },
    );

    expect(waitingFor(done)).toEqual({ stages: false, answers: false });
    expect(waitingFor(undefined)).toEqual({ stages: false, answers: false });
  });
});
