// onnxruntime-web as the reference runtime of the export tests: one thread, wasm backend, in Node.
import * as ort from 'onnxruntime-web';
import type { Tensor } from '../../src/index.js';

ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

const ORT_TYPES = { float32: 'float32', int32: 'int32', bool: 'bool' } as const;

/** An onnxruntime tensor with a kiln tensor's values. */
export function toOrt(t: Tensor): ort.Tensor {
  const data = t.data();
  if (t.dtype === 'bool') return new ort.Tensor('bool', Uint8Array.from(data), [...t.shape]);
  return new ort.Tensor(ORT_TYPES[t.dtype], data as Float32Array | Int32Array, [...t.shape]);
}

/** Runs a model in onnxruntime-web on named inputs; returns its outputs in the model's order. */
export async function runOrt(model: Uint8Array, feeds: Record<string, Tensor>): Promise<{ data: ArrayLike<number | bigint | boolean>; dims: readonly number[]; type: string }[]> {
  const session = await ort.InferenceSession.create(model);
  try {
    const result = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrt(t)])));
    return session.outputNames.map((n) => ({ data: result[n].data as ArrayLike<number>, dims: result[n].dims, type: result[n].type }));
  } finally {
    await session.release();
  }
}

/** Differences between kiln's values and onnxruntime's (null when equal within float32 tolerance). */
export function compareOrt(got: Tensor, want: { data: ArrayLike<number | bigint | boolean>; dims: readonly number[] }, rtol = 1e-4, atol = 1e-5): string | null {
  if (got.shape.length !== want.dims.length || got.shape.some((d, i) => d !== want.dims[i])) return `shape [${got.shape.join(',')}] vs onnxruntime [${want.dims.join(',')}]`;
  const g = got.data();
  let bad = 0, first = '';
  for (let i = 0; i < g.length; i++) {
    const a = g[i], w = Number(want.data[i]);
    const ok = Number.isNaN(a) || Number.isNaN(w) ? Number.isNaN(a) && Number.isNaN(w)
      : !Number.isFinite(a) || !Number.isFinite(w) ? a === w
      : Math.abs(a - w) <= atol + rtol * Math.abs(w);
    if (!ok && bad++ === 0) first = `at ${i}: kiln ${a}, onnxruntime ${w}`;
  }
  return bad ? `${bad} of ${g.length} values differ (first ${first})` : null;
}
