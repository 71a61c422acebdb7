import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeEngine } from '#engine/engine.ts';
import { ModelRegistry } from '#engine/models/registry.ts';
import { createTextReader, type TextReader } from '#engine/ocr/text-reader.ts';
import { readEngineSettings } from '#engine/settings.ts';
import { renderTextImage, textImage } from '#test/fixtures/text-images.ts';
import { fixtureModelsDir } from '#test/support/fixture-models.ts';

const source = { kind: 'file' as const, path: 'shop-sign.png' };

describe('text in the description record (engine + PP-OCRv4 reader)', () => {
  let models: ModelRegistry;
  let textReader: TextReader;

  beforeAll(async () => {
    models = await ModelRegistry.open({ modelsDir: fixtureModelsDir(), threads: 1 });
    textReader = await createTextReader({ threads: 1 });
  });

  afterAll(async () => {
    await textReader?.dispose();
    await models?.dispose();
  });

  it('fills record.text, the OCR provenance and the OCR timing in the fast stage when OCR_STAGE=fast', async () => {
    // Prepare
    const settings = readEngineSettings({ MODELS_DIR: fixtureModelsDir(), OCR_STAGE: 'fast' });
    const engine = new DescribeEngine({ settings, models, textReader });
    const { png } = await renderTextImage(textImage('paragraphSerif'));

    // Act
    const record = await engine.describeFast({ bytes: png, source });

    // Assess
    expect(record.text?.full).toBe(
      'The quick brown fox jumps\nover the lazy dog near the\nriver bank at 7:45 pm.',
    );
    expect(record.text?.lines.map((l) => l.text)).toEqual([
      'The quick brown fox jumps',
      'over the lazy dog near the',
      'river bank at 7:45 pm.',
    ]);
    expect(record.models.ocr).toEqual(textReader.provenance);
    expect(record.timings.fast?.ocrMs).toBeGreaterThan(0);
    expect(record.status.fast.state).toBe('done');
  });

  it('leaves text to the detailed stage when OCR_STAGE=detailed', async () => {
    // Prepare
    const settings = readEngineSettings({ MODELS_DIR: fixtureModelsDir(), OCR_STAGE: 'detailed' });
    const engine = new DescribeEngine({ settings, models, textReader });
    const { png } = await renderTextImage(textImage('clearSans'));

    // Act
    const fast = await engine.describeFast({ bytes: png, source });
    const detailed = await engine.describeDetailed({ bytes: png, source }, fast);

    // Assess
    expect(fast.text).toBeUndefined();
    expect(detailed.text?.full).toBe('Fresh bread every morning');
    expect(detailed.timings.detailed?.ocrMs).toBeGreaterThan(0);
    expect(detailed.status.detailed.state).toBe('done');
  });
});
