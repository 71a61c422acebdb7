import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type Node = onnxProto.onnx.INodeProto;
type Tensor = onnxProto.onnx.ITensorProto;

/**
 * Exact algebraic simplifications of the PP-OCR graphs as exported by paddle2onnx, applied to the
 * model bytes before onnxruntime loads them. The exporter writes every PP-LCNetV3 layer as
 *   Conv → Mul(a) → Add(b) → [Add(3) → Clip(0, 6) → Mul(x) → Div(6)] → Mul(s) → Add(t) → Conv
 * (a scalar affine, a hard-swish spelled out in four ops, another scalar affine). onnxruntime fuses
 * none of it: each element-wise op is a full pass over the feature map, and each one forces a
 * layout conversion out of and back into its blocked convolution format; together they were about
 * 60 % of the recogniser's kernel time. Rewritten here:
 * - the affine after a Conv goes into its weights and bias (W·a, B·a + b);
 * - the hard-swish becomes HardSigmoid(x; 1/6, 0.5) · x (two ops; same function);
 * - the affine before an unpadded Conv goes into that Conv (W·s, B + t·ΣW): with no padding every
 *   input the Conv reads is an affine output, so this is exact (padded ones would see t at borders).
 * Only patterns whose intermediate values have a single consumer and constant scalars are touched.
 */
export function simplifyPaddleGraph(bytes: Uint8Array): { bytes: Uint8Array; rewrites: number } {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph?.node) return { bytes, rewrites: 0 };
  const outputs = (graph.output ?? []).map((o) => o.name ?? '');
  const initializers = graph.initializer ?? [];
  const constants = constantTensors(graph);

  let nodes: Node[] = [...graph.node];
  const consumers = () => {
    const map = new Map<string, Node[]>();
    for (const node of nodes)
      for (const input of node.input ?? []) map.set(input, [...(map.get(input) ?? []), node]);
    for (const output of outputs) map.set(output, [...(map.get(output) ?? []), {}]);
    return map;
  };
  const added: Tensor[] = [];
  let counter = 0;
  const addConstant = (values: Float32Array, dims: number[]): string => {
    const name = `simplified_${counter++}`;
    const tensor: Tensor = {
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    };
    added.push(tensor);
    constants.set(name, tensor);
    return name;
  };
  const scalarOf = (node: Node, other: string): number | undefined => {
    const name = (node.input ?? []).find((i) => i !== other) ?? other;
    if ((node.input ?? []).length !== 2) return undefined;
    const values = floatsOf(constants.get(name));
    return values?.length === 1 ? values[0] : undefined;
  };
  const only = (map: Map<string, Node[]>, name: string): Node | undefined => {
    const list = map.get(name);
    return list?.length === 1 ? list[0] : undefined;
  };
  const convParts = (conv: Node) => {
    const weight = floatsOf(constants.get(conv.input?.[1] ?? ''));
    const dims = constants.get(conv.input?.[1] ?? '')?.dims?.map(Number);
    if (!weight || !dims || dims.length !== 4) return undefined;
    const outChannels = dims[0] as number;
    const biasName = conv.input?.[2];
    const bias = biasName ? floatsOf(constants.get(biasName)) : new Float32Array(outChannels);
    if (!bias || bias.length !== outChannels) return undefined;
    return { weight, dims, bias, perOut: weight.length / outChannels };
  };
  const setConv = (conv: Node, weight: Float32Array, dims: number[], bias: Float32Array) => {
    const input = conv.input?.[0] ?? '';
    conv.input = [input, addConstant(weight, dims), addConstant(bias, [bias.length])];
  };

  let rewrites = 0;
  const removed = new Set<Node>();
  // 1. Conv → Mul(a) → Add(b) into the Conv.
  let users = consumers();
  for (const conv of nodes) {
    if (conv.opType !== 'Conv') continue;
    const out = conv.output?.[0] ?? '';
    const mul = only(users, out);
    if (mul?.opType !== 'Mul') continue;
    const a = scalarOf(mul, out);
    const add = only(users, mul.output?.[0] ?? '');
    if (a === undefined || add?.opType !== 'Add') continue;
    const b = scalarOf(add, mul.output?.[0] ?? '');
    const parts = convParts(conv);
    if (b === undefined || !parts) continue;
    const weight = parts.weight.map((w) => w * a);
    const bias = parts.bias.map((v) => v * a + b);
    setConv(conv, weight, parts.dims, bias);
    conv.output = [add.output?.[0] ?? ''];
    removed.add(mul).add(add);
    rewrites++;
  }
  nodes = nodes.filter((n) => !removed.has(n));

  // 2. Add(3) → Clip(0, 6) → Mul(x) → Div(6) into HardSigmoid + Mul.
  users = consumers();
  const replaced = new Map<Node, Node[]>();
  for (const add of nodes) {
    if (add.opType !== 'Add') continue;
    const x = (add.input ?? []).find((i) => !constants.has(i));
    if (x === undefined || scalarOf(add, x) !== 3) continue;
    const clip = only(users, add.output?.[0] ?? '');
    if (clip?.opType !== 'Clip' || !clipIsZeroToSix(clip, constants)) continue;
    const mul = only(users, clip.output?.[0] ?? '');
    if (mul?.opType !== 'Mul' || !(mul.input ?? []).includes(x)) continue;
    const div = only(users, mul.output?.[0] ?? '');
    if (
      div?.opType !== 'Div' ||
      div.input?.[0] !== mul.output?.[0] ||
      scalarOf(div, mul.output?.[0] ?? '') !== 6
    )
      continue;
    const gate = `${div.output?.[0]}_gate`;
    replaced.set(add, [
      {
        opType: 'HardSigmoid',
        input: [x],
        output: [gate],
        name: `${gate}_op`,
        attribute: [
          { name: 'alpha', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 / 6 },
          { name: 'beta', type: onnx.AttributeProto.AttributeType.FLOAT, f: 0.5 },
        ],
      },
      { opType: 'Mul', input: [x, gate], output: [div.output?.[0] ?? ''], name: `${gate}_mul` },
    ]);
    removed.add(clip).add(mul).add(div);
    rewrites++;
  }
  nodes = nodes.flatMap((n) => replaced.get(n) ?? (removed.has(n) ? [] : [n]));

  // 3. Mul(s) → Add(t) → unpadded Conv into that Conv.
  users = consumers();
  removed.clear();
  for (const mul of nodes) {
    if (mul.opType !== 'Mul') continue;
    const x = (mul.input ?? []).find((i) => !constants.has(i));
    const s = x === undefined ? undefined : scalarOf(mul, x);
    const add = only(users, mul.output?.[0] ?? '');
    if (s === undefined || add?.opType !== 'Add') continue;
    const t = scalarOf(add, mul.output?.[0] ?? '');
    const conv = only(users, add.output?.[0] ?? '');
    if (t === undefined || conv?.opType !== 'Conv' || conv.input?.[0] !== add.output?.[0] || !unpadded(conv))
      continue;
    const parts = convParts(conv);
    if (!parts) continue;
    const bias = parts.bias.map((v, o) => {
      let sum = 0;
      for (let k = 0; k < parts.perOut; k++) sum += parts.weight[o * parts.perOut + k] as number;
      return v + t * sum;
    });
    setConv(
      conv,
      parts.weight.map((w) => w * s),
      parts.dims,
      bias,
    );
    conv.input = [x as string, ...(conv.input ?? []).slice(1)];
    removed.add(mul).add(add);
    rewrites++;
  }
  nodes = nodes.filter((n) => !removed.has(n));

  // Constants only the removed ops read would make onnxruntime warn about each one at load.
  const read = new Set(nodes.flatMap((n) => n.input ?? []));
  for (const output of outputs) read.add(output);
  graph.node = nodes.filter((n) => n.opType !== 'Constant' || read.has(n.output?.[0] ?? ''));
  graph.initializer = [...initializers, ...added].filter((t) => read.has(t.name ?? ''));
  return { bytes: onnx.ModelProto.encode(model).finish(), rewrites };
}

/** Every constant of the graph by name: its initializers and the values of its Constant nodes. */
export function constantTensors(graph: onnxProto.onnx.IGraphProto): Map<string, Tensor> {
  const constants = new Map<string, Tensor>();
  for (const node of graph.node ?? []) {
    const tensor =
      node.opType === 'Constant' ? node.attribute?.find((a) => a.name === 'value')?.t : undefined;
    if (tensor && node.output?.[0]) constants.set(node.output[0], tensor);
  }
  for (const tensor of graph.initializer ?? []) if (tensor.name) constants.set(tensor.name, tensor);
  return constants;
}

export function floatsOf(tensor: Tensor | undefined): Float32Array | undefined {
  if (!tensor || tensor.dataType !== onnx.TensorProto.DataType.FLOAT) return undefined;
  if (tensor.rawData && tensor.rawData.length > 0)
    return new Float32Array(new Uint8Array(tensor.rawData).buffer);
  return tensor.floatData ? Float32Array.from(tensor.floatData) : undefined;
}

function clipIsZeroToSix(clip: Node, constants: Map<string, Tensor>): boolean {
  const attr = (name: string) => clip.attribute?.find((a) => a.name === name)?.f;
  const input = (i: number) => floatsOf(constants.get(clip.input?.[i] ?? ''))?.[0];
  const min = (clip.input?.length ?? 0) > 1 ? input(1) : attr('min');
  const max = (clip.input?.length ?? 0) > 2 ? input(2) : attr('max');
  return min === 0 && max === 6;
}

function unpadded(conv: Node): boolean {
  const pads = conv.attribute?.find((a) => a.name === 'pads')?.ints?.map(Number) ?? [];
  const autoPad = conv.attribute?.find((a) => a.name === 'auto_pad')?.s;
  const autoPadText = autoPad ? new TextDecoder().decode(autoPad) : 'NOTSET';
  return pads.every((p) => p === 0) && (autoPadText === 'NOTSET' || autoPadText === 'VALID');
}
