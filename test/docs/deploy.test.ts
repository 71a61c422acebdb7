import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE, SERVICE_NAME } from '#engine/service.ts';
import { stackPropsFromContext } from '../../infra/config.ts';
import { type Synthesized, synthesize } from '../infra/synth.ts';
import { readDoc } from './markdown.ts';

/** The backticked names of docs/deploy.md's "Outputs:" paragraph. */
function documentedOutputs(): string[] {
  const doc = readDoc('docs/deploy.md');
  const paragraph = /^Outputs: ([\s\S]+?)\n\n/m.exec(doc)?.[1] ?? '';
  return [...paragraph.matchAll(/`([A-Z]\w+)`/g)].map((match) => match[1] ?? '').sort();
}

describe('docs/deploy.md', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize(stackPropsFromContext({ tryGetContext: () => undefined }), { bundle: false });
  });
  afterAll(() => synth?.cleanup());

  it('lists every output a default deploy prints, and no other', () => {
    const outputs = Object.keys(synth.template.toJSON().Outputs ?? {}).sort();
    expect(documentedOutputs()).toEqual(outputs);
  });

  it('names the metrics namespace and service the functions use', () => {
    const metrics = /^- Metrics \(EMF, namespace `([^`]+)`, dimension `service` = `([^`]+)`\)/m.exec(
      readDoc('docs/deploy.md'),
    );
    expect(metrics?.slice(1)).toEqual([METRICS_NAMESPACE, SERVICE_NAME]);
  });
});
