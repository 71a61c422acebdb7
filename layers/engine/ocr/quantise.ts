import onnxProto from 'onnx-proto';
import { ModelLoadError } from '../errors.ts';
import { constantTensors, floatsOf } from './graph-rewrite.ts';

const { onnx } = onnxProto;

type Node = onnxProto.onnx.INodeProto;
type Tensor = onnxProto.onnx.ITensorProto;
const DataType = onnx.TensorProto.DataType;

/** Smallest and largest value a tensor took over the calibration inputs. */
export type ActivationRanges = Readonly<Record<string, readonly [number, number]>>;

/** Input and output of every Conv the quantiser can take (constant weights, enough channels). */
export function quantisableActivations(bytes: Uint8Array): { input: string; output: string }[] {
  const { graph, constants } = parse(bytes);
  return quantisableConvs(graph.node ?? [], constants).map((conv) => ({
    input: conv.input?.[0] ?? '',
    output: conv.output?.[0] ?? '',
  }));
}

/** The model with `names` added as graph outputs, so one run reports them for calibration. */
export function exposeTensors(bytes: Uint8Array, names: readonly string[]): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph as onnxProto.onnx.IGraphProto;
  const present = new Set((graph.output ?? []).map((o) => o.name));
  graph.output = [
    ...(graph.output ?? []),
    ...names
      .filter((name) => !present.has(name))
      .map((name) => ({ name, type: { tensorType: { elemType: DataType.FLOAT } } })),
  ];
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Static int8 quantisation, in QDQ form that onnxruntime fuses into QLinearConv, of the quantisable
 * Convs whose input and output `ranges` holds (the calibration picks them): activations uint8 with
 * a per-tensor scale from `ranges`, weights int8 symmetric per output channel, biases int32 at the
 * product of the two scales. Everything else stays float. The graph is moved to opset 13 first
 * (per-channel DequantizeLinear needs it); the few ops whose signature changed on the way (Slice,
 * Squeeze) are rewritten to the new form with the same meaning.
 */
export function quantiseConvs(
  bytes: Uint8Array,
  ranges: ActivationRanges,
  options: { requireMatch?: boolean } = {},
): { bytes: Uint8Array; convs: number } {
  const { model, graph, constants } = parse(bytes);
  const quantisable = new Set(quantisableConvs(graph.node ?? [], constants));
  if (options.requireMatch) {
    // The ranges name this graph's tensors: another recogniser would be left float while labelled int8.
    const tensors = new Set((graph.node ?? []).flatMap((n) => [...(n.input ?? []), ...(n.output ?? [])]));
    const foreign = Object.keys(ranges).filter((name) => !tensors.has(name));
    if (foreign.length > 0 || Object.keys(ranges).length === 0) {
      throw new ModelLoadError(
        `The int8 calibration names ${foreign.length} of its ${Object.keys(ranges).length} tensors that this recogniser does not have: it was made for another one (run npm run models:calibrate-ocr for this one, or use recogniserPrecision 'fp32')`,
      );
    }
  }
  const added: Tensor[] = [];
  const constant = (name: string, tensor: Omit<Tensor, 'name'>) => {
    added.push({ ...tensor, name });
    return name;
  };
  upgradeToOpset13(model, graph, constant);
  const axis0 = [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }];

  const nodes: Node[] = [];
  // Activation name → the name of its dequantised value (a Conv's output keeps its own name).
  const dequantised = new Map<string, string>();
  const quantiseActivation = (name: string, range: readonly [number, number], as: string) => {
    const { scale, zero } = activationScale(range);
    const s = constant(`${as}_scale`, floatTensor([], [scale]));
    const z = constant(`${as}_zero`, { dims: [], dataType: DataType.UINT8, rawData: Uint8Array.of(zero) });
    nodes.push(
      { opType: 'QuantizeLinear', input: [name, s, z], output: [`${as}_q`], name: `${as}_quantise` },
      { opType: 'DequantizeLinear', input: [`${as}_q`, s, z], output: [as], name: `${as}_dequantise` },
    );
    dequantised.set(name, as);
    return as;
  };

  let convs = 0;
  for (const node of graph.node ?? []) {
    const input = node.input?.[0] ?? '';
    const output = node.output?.[0] ?? '';
    const inputRange = ranges[input];
    const outputRange = ranges[output];
    if (!quantisable.has(node) || !inputRange || !outputRange) {
      nodes.push(node);
      continue;
    }
    const x = dequantised.get(input) ?? quantiseActivation(input, inputRange, `${input}_dq`);
    const weightTensor = constants.get(node.input?.[1] ?? '') as Tensor;
    const weight = floatsOf(weightTensor) as Float32Array;
    const dims = (weightTensor.dims ?? []).map(Number);
    const channels = dims[0] as number;
    const biasName = node.input?.[2];
    const bias = biasName ? (floatsOf(constants.get(biasName)) as Float32Array) : new Float32Array(channels);
    const { weights, weightScales, biases, biasScales } = quantiseWeights(
      weight,
      bias,
      channels,
      activationScale(inputRange).scale,
    );
    const id = `${output}_int8`;
    const w = constant(`${id}_w`, { dims, dataType: DataType.INT8, rawData: bytesOf(weights) });
    const ws = constant(`${id}_ws`, floatTensor([channels], weightScales));
    const wz = constant(`${id}_wz`, {
      dims: [channels],
      dataType: DataType.INT8,
      rawData: new Uint8Array(channels),
    });
    const b = constant(`${id}_b`, { dims: [channels], dataType: DataType.INT32, rawData: bytesOf(biases) });
    const bs = constant(`${id}_bs`, floatTensor([channels], biasScales));
    const bz = constant(`${id}_bz`, {
      dims: [channels],
      dataType: DataType.INT32,
      rawData: new Uint8Array(channels * 4),
    });
    nodes.push(
      {
        opType: 'DequantizeLinear',
        input: [w, ws, wz],
        output: [`${id}_wf`],
        name: `${id}_wdq`,
        attribute: axis0,
      },
      {
        opType: 'DequantizeLinear',
        input: [b, bs, bz],
        output: [`${id}_bf`],
        name: `${id}_bdq`,
        attribute: axis0,
      },
    );
    node.input = [x, `${id}_wf`, `${id}_bf`];
    node.output = [`${id}_float`];
    nodes.push(node);
    // Readers of the Conv's output see its dequantised value under the original name.
    quantiseActivation(`${id}_float`, outputRange, output);
    convs++;
  }
  // The float weights now only feed nothing (as initializers or Constant nodes): drop them.
  const read = new Set(nodes.flatMap((n) => n.input ?? []));
  graph.node = nodes.filter((n) => n.opType !== 'Constant' || read.has(n.output?.[0] ?? ''));
  graph.initializer = [...(graph.initializer ?? []), ...added].filter((t) => read.has(t.name ?? ''));
  return { bytes: onnx.ModelProto.encode(model).finish(), convs };
}

/** uint8 scale and zero point covering `range` and 0 (zero must be exact: padding reads it). */
function activationScale(range: readonly [number, number]): { scale: number; zero: number } {
  const lo = Math.min(0, range[0]);
  const hi = Math.max(0, range[1]);
  const scale = Math.fround(hi > lo ? (hi - lo) / 255 : 1);
  return { scale, zero: Math.min(255, Math.max(0, Math.round(-lo / scale))) };
}

/** int8 weights symmetric per output channel; int32 biases at input scale × weight scale. */
function quantiseWeights(weight: Float32Array, bias: Float32Array, channels: number, inputScale: number) {
  const perChannel = weight.length / channels;
  const weights = new Int8Array(weight.length);
  const weightScales = new Float32Array(channels);
  const biasScales = new Float32Array(channels);
  const biases = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    let peak = 0;
    for (let k = 0; k < perChannel; k++)
      peak = Math.max(peak, Math.abs(weight[c * perChannel + k] as number));
    // A channel whose weights are all but zero would get a scale so small that its bias overflows
    // int32 (one of the recogniser's has weights ~1e-44): its scale grows until the bias fits, with room
    // for the float32 rounding of the scales.
    const biasFloor = Math.abs(bias[c] as number) / (inputScale * 2 ** 30);
    const scale = Math.max(peak / 127, biasFloor) || 1;
    weightScales[c] = scale;
    for (let k = 0; k < perChannel; k++)
      weights[c * perChannel + k] = Math.round(
        (weight[c * perChannel + k] as number) / (weightScales[c] as number),
      );
    biasScales[c] = inputScale * (weightScales[c] as number);
    const quantisedBias = Math.round((bias[c] as number) / (biasScales[c] as number));
    // An Int32Array would wrap a larger value silently.
    if (Math.abs(quantisedBias) > 2 ** 31 - 1) {
      throw new ModelLoadError(
        `Cannot quantise the graph: a bias of ${bias[c]} at scale ${biasScales[c]} does not fit in int32`,
      );
    }
    biases[c] = quantisedBias;
  }
  return { weights, weightScales, biases, biasScales };
}

function parse(bytes: Uint8Array) {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph as onnxProto.onnx.IGraphProto;
  return { model, graph, constants: constantTensors(graph) };
}

/**
 * Convs with constant weights reading at least MIN_QUANTISED_CHANNELS channels per group. The
 * smaller ones (the stem, depthwise convolutions) cost less in float than the quantise and
 * dequantise passes around an int8 kernel: on the PP-OCRv4 recogniser (1,000 columns, one thread)
 * quantising all 38 Convs saved nothing, these wide ones about a quarter of its CPU.
 */
function quantisableConvs(nodes: readonly Node[], constants: Map<string, Tensor>): Node[] {
  return nodes.filter((n) => {
    if (n.opType !== 'Conv') return false;
    const weight = constants.get(n.input?.[1] ?? '');
    const bias = n.input?.[2];
    return (
      floatsOf(weight) !== undefined &&
      Number(weight?.dims?.[1] ?? 0) >= MIN_QUANTISED_CHANNELS &&
      (bias === undefined || floatsOf(constants.get(bias)) !== undefined)
    );
  });
}

const MIN_QUANTISED_CHANNELS = 64;

/**
 * Slice and Squeeze took their axes as attributes up to opset 9 and as inputs from 10 and 13.
 * Softmax is kept as it is, which means the same at 13 when its axis is the last one: true of the
 * PP-OCRv4 recogniser (attention over axis 3 of rank 4, the output over axis 2 of rank 3), the only
 * graph the calibration ranges fit (`requireMatch`), and checked by its float/int8 equivalence test.
 */
function upgradeToOpset13(
  model: onnxProto.onnx.IModelProto,
  graph: onnxProto.onnx.IGraphProto,
  constant: (name: string, tensor: Omit<Tensor, 'name'>) => string,
): void {
  const main = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === '');
  if (!main || Number(main.version) >= 13) return;
  main.version = 13;
  // Through the decimal string: a Number would round INT64_MAX (an open-ended Slice) to 2^63, which wraps.
  const ints = (node: Node, name: string) =>
    node.attribute?.find((a) => a.name === name)?.ints?.map((v) => BigInt(String(v)));
  const int64s = (name: string, values: bigint[]) =>
    constant(name, {
      dims: [values.length],
      dataType: DataType.INT64,
      rawData: bytesOf(BigInt64Array.from(values)),
    });
  for (const node of graph.node ?? []) {
    const id = node.output?.[0] ?? '';
    if (node.opType === 'Slice' && (node.input ?? []).length === 1) {
      const starts = ints(node, 'starts') ?? [];
      const ends = ints(node, 'ends') ?? [];
      const axes = ints(node, 'axes') ?? starts.map((_, i) => BigInt(i));
      node.input = [
        node.input?.[0] ?? '',
        int64s(`${id}_starts`, starts),
        int64s(`${id}_ends`, ends),
        int64s(`${id}_axes`, axes),
      ];
      node.attribute = [];
    } else if (node.opType === 'Squeeze' && (node.input ?? []).length === 1) {
      const axes = ints(node, 'axes');
      if (axes) node.input = [node.input?.[0] ?? '', int64s(`${id}_axes`, axes)];
      node.attribute = [];
    } else if (
      ['Unsqueeze', 'ReduceSum', 'Split', 'Pad', 'Upsample', 'Resize', 'Clip', 'TopK', 'Dropout'].includes(
        node.opType ?? '',
      )
    ) {
      throw new ModelLoadError(
        `Cannot quantise the graph: its ${node.opType} would need rewriting for opset 13`,
      );
    }
  }
}

function floatTensor(dims: number[], values: ArrayLike<number>): Omit<Tensor, 'name'> {
  return { dims, dataType: DataType.FLOAT, rawData: bytesOf(Float32Array.from(values)) };
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
