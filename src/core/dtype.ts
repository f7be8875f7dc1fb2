// Data types, their typed-array storage and PyTorch-style type promotion.
import { DTypeError } from './errors.js';

/** The element types a tensor can hold. */
export type DType = 'float32' | 'int32' | 'bool';
export const DTYPES: readonly DType[] = ['float32', 'int32', 'bool'];

/** The typed array a dtype is read into (bool as 0/1 bytes). */
export type TypedArray = Float32Array | Int32Array | Uint8Array;

/** Allocates a zeroed typed array for a dtype. */
export function typedArrayFor(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(size);
    case 'int32': return new Int32Array(size);
    case 'bool': return new Uint8Array(size);
  }
}

/** Short dtype names used by the printed IR: f32, i32, bool. */
export function shortDType(dtype: DType): string {
  return dtype === 'float32' ? 'f32' : dtype === 'int32' ? 'i32' : 'bool';
}

const RANK: Record<DType, number> = { bool: 0, int32: 1, float32: 2 };

/** Result dtype of combining two tensors (bool < int32 < float32), as torch.result_type. */
export function promoteTypes(a: DType, b: DType): DType {
  return RANK[a] >= RANK[b] ? a : b;
}

/** The dtype a JS scalar takes when combined with a tensor of `other` (a "weak" scalar type, as in PyTorch). */
export function scalarPromote(tensorDType: DType, value: number | boolean): DType {
  if (typeof value === 'boolean') return tensorDType;
  if (!Number.isInteger(value)) return 'float32'; // also NaN and ±Infinity
  return tensorDType === 'bool' ? 'int32' : tensorDType;
}

/**
 * The default dtype of a JS literal: bool for booleans, else float32. JS cannot tell 2 from 2.0, so
 * numbers default to float32 (as in TensorFlow.js); ask for int32 with { dtype: 'int32' } or an Int32Array.
 */
export function inferDType(values: ArrayLike<number | boolean>): DType {
  if (values.length === 0) return 'float32';
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'boolean') return 'float32';
  return 'bool';
}

/** Converts a JS number to the value a dtype stores (truncation for int32, != 0 for bool). */
export function castScalar(value: number, dtype: DType): number {
  switch (dtype) {
    case 'float32': return Math.fround(value);
    case 'int32': return Number.isNaN(value) ? 0 : (Math.trunc(value) | 0);
    case 'bool': return value !== 0 ? 1 : 0; // NaN is truthy, as in PyTorch
  }
}

/** Throws unless `dtype` is one of `allowed`, naming the op and argument. */
export function expectDType(op: string, arg: string, dtype: DType, allowed: readonly DType[]): void {
  if (!allowed.includes(dtype)) {
    throw new DTypeError(`${op}: ${arg} has dtype ${dtype}, expected ${allowed.join(' or ')}`);
  }
}

/** Checks a user-supplied dtype string. */
export function checkDType(op: string, dtype: unknown): DType {
  if (dtype === 'float32' || dtype === 'int32' || dtype === 'bool') return dtype;
  throw new DTypeError(`${op}: unknown dtype ${JSON.stringify(dtype)}, expected 'float32', 'int32' or 'bool'`);
}
