// Values the importer knows on the host: constants, shapes and what is computed from them. They keep
// ONNX's element type and full precision (int64 sentinels such as INT64_MAX in Slice ends survive),
// and become kiln tensors only where a tensor is needed, checked to fit kiln's dtypes.
import type { BackendName } from '../core/backend.js';
import type { DType } from '../core/dtype.js';
import { DTypeError, ShapeError, fmtShape } from '../core/errors.js';
import { sizeOf } from '../core/shape.js';
import { fromTypedArray } from '../creation.js';
import type { Tensor } from '../tensor.js';

/** ONNX TensorProto.DataType codes (onnx.proto). */
export const ElemType = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;

const NAMES: Record<number, string> = {
  0: 'undefined', 1: 'float', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool',
  10: 'float16', 11: 'double', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16',
  17: 'float8e4m3fn', 18: 'float8e4m3fnuz', 19: 'float8e5m2', 20: 'float8e5m2fnuz', 21: 'uint4', 22: 'int4', 23: 'float4e2m1',
  24: 'float8e8m0', 25: 'uint2', 26: 'int2',
};

/** The ONNX name of an element type code. */
export function elemTypeName(t: number): string { return NAMES[t] ?? `type ${t}`; }

const FLOATS = new Set<number>([ElemType.FLOAT, ElemType.DOUBLE, ElemType.FLOAT16, ElemType.BFLOAT16]);
const INTS = new Set<number>([ElemType.UINT8, ElemType.INT8, ElemType.UINT16, ElemType.INT16, ElemType.INT32, ElemType.INT64, ElemType.UINT32, ElemType.UINT64]);

/** The kiln dtype an ONNX element type is held in, or null when kiln has no lossless home for it. */
export function kilnDTypeOf(t: number): DType | null {
  if (FLOATS.has(t)) return 'float32';
  if (INTS.has(t)) return 'int32';
  if (t === ElemType.BOOL) return 'bool';
  return null;
}

/** The ONNX element type of a kiln dtype. */
export function elemTypeOf(d: DType): number {
  return d === 'float32' ? ElemType.FLOAT : d === 'int32' ? ElemType.INT32 : ElemType.BOOL;
}

export const isFloatType = (t: number) => FLOATS.has(t);
export const isIntType = (t: number) => INTS.has(t);

/** Converts a number to what an element type stores (C-style truncation for ints, as numpy casts). */
export function castNumber(v: number, t: number): number {
  if (t === ElemType.BOOL) return v !== 0 ? 1 : 0;
  if (t === ElemType.FLOAT || t === ElemType.FLOAT16 || t === ElemType.BFLOAT16) return Math.fround(v);
  if (t === ElemType.DOUBLE) return v;
  return Number.isFinite(v) ? Math.trunc(v) : 0;
}

/** A tensor value known on the host: element type, shape and row-major data. */
export class HostTensor {
  constructor(readonly type: number, readonly shape: readonly number[], readonly data: ArrayLike<number>, readonly name = '') {
    if (data.length !== sizeOf(shape)) throw new ShapeError(`onnx: ${name || 'constant'}: ${data.length} values do not fill shape ${fmtShape(shape)}`);
  }

  static scalar(type: number, v: number, name = ''): HostTensor { return new HostTensor(type, [], [castNumber(v, type)], name); }
  static vector(type: number, vs: readonly number[], name = ''): HostTensor { return new HostTensor(type, [vs.length], vs.map((v) => castNumber(v, type)), name); }

  get size(): number { return this.data.length; }
  get dtype(): DType | null { return kilnDTypeOf(this.type); }

  /** The values as a plain array of numbers. */
  values(): number[] { return Array.from(this.data); }

  /** The single value of a one-element tensor. */
  item(what: string): number {
    if (this.data.length !== 1) throw new ShapeError(`onnx: ${what} must hold one value, got shape ${fmtShape(this.shape)}`);
    return this.data[0];
  }

  /** Converts to a kiln tensor: integers must fit int32 and floats float32 exactly (doubles), else an error naming it. */
  toTensor(backend: BackendName, what = this.name || 'constant'): Tensor {
    const dtype = kilnDTypeOf(this.type);
    if (!dtype) throw new DTypeError(`onnx: ${what} has element type ${elemTypeName(this.type)}, which kiln cannot hold (it has float32, int32 and bool)`);
    const n = this.data.length;
    if (dtype === 'int32') {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = this.data[i];
        if (!(v >= -2147483648 && v <= 2147483647)) {
          throw new DTypeError(`onnx: ${what} (${elemTypeName(this.type)} ${fmtShape(this.shape)}) holds ${v} at index ${i}, outside int32, kiln's integer type`);
        }
        out[i] = v;
      }
      return fromTypedArray(out, this.shape, 'int32', backend);
    }
    if (dtype === 'bool') return fromTypedArray(Uint8Array.from(this.data, (v) => (v ? 1 : 0)), this.shape, 'bool', backend);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = this.data[i];
      out[i] = v;
      if (this.type === ElemType.DOUBLE && out[i] !== v && !Number.isNaN(v)) {
        throw new DTypeError(`onnx: ${what} (double ${fmtShape(this.shape)}) holds ${v} at index ${i}, which float32, kiln's float type, cannot represent exactly`);
      }
    }
    return fromTypedArray(out, this.shape, 'float32', backend);
  }

  /** The host copy of a kiln tensor (reads it: a graph break inside compile()). */
  static fromTensor(t: Tensor, type = elemTypeOf(t.dtype)): HostTensor {
    return new HostTensor(type, [...t.shape], Array.from(t.data()));
  }
}
