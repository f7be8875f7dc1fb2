// Checks of the plain JS values users pass (numbers, booleans, sizes, dims, option objects), each
// throwing a KilnError that names the op, the argument, what it got and what it expected. Tensor
// arguments are checked above this layer (src/validate.ts), which knows the Tensor class.
import { KilnError, ShapeError } from './errors.js';

/** A short description of a JS value for error messages: `the string '3'`, `undefined`, `an array`. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  switch (typeof v) {
    case 'string': return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
    case 'number': return `the number ${Object.is(v, -0) ? '-0' : String(v)}`;
    case 'boolean': return `the boolean ${v}`;
    case 'bigint': return `the BigInt ${v}n`;
    case 'symbol': return 'a symbol';
    case 'function': return 'a function';
  }
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  const name = (v as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

/** The int32 range: JS numbers an int32 tensor can hold without wrapping. */
export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

/** True when `v` is an integer-valued number that int32 cannot hold. */
export function outsideInt32(v: number): boolean {
  return Number.isInteger(v) && (v < INT32_MIN || v > INT32_MAX);
}

/** A scalar operand: a number or a boolean (JS's weak scalars), else a KilnError naming the op. */
export function checkScalar(op: string, arg: string, v: unknown): number | boolean {
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  const hint = Array.isArray(v) ? ' (wrap an array with tensor())' : typeof v === 'string' ? ' (convert strings with Number())' : '';
  throw new KilnError(`${op}: ${arg} must be a tensor, a number or a boolean, got ${describeValue(v)}${hint}`);
}

/** A finite or infinite number (not NaN unless `allowNaN`), else a KilnError. */
export function checkNumber(op: string, arg: string, v: unknown, opts: { finite?: boolean; allowNaN?: boolean } = {}): number {
  if (typeof v !== 'number' || (Number.isNaN(v) && !opts.allowNaN) || (opts.finite && !Number.isFinite(v) && !Number.isNaN(v))) {
    throw new KilnError(`${op}: ${arg} must be a ${opts.finite ? 'finite ' : ''}number, got ${describeValue(v)}`);
  }
  return v;
}

/** An integer number (safe range), else a KilnError; `min` bounds it below. */
export function checkInt(op: string, arg: string, v: unknown, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    const what = min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : 'an integer';
    throw new KilnError(`${op}: ${arg} must be ${what}, got ${describeValue(v)}`);
  }
  return v;
}

/** A boolean, else a KilnError. */
export function checkBool(op: string, arg: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new KilnError(`${op}: ${arg} must be true or false, got ${describeValue(v)}`);
  return v;
}

/** One of the listed string values, else a KilnError listing them. */
export function checkChoice<T extends string>(op: string, arg: string, v: unknown, choices: readonly T[]): T {
  if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
  throw new KilnError(`${op}: ${arg} must be ${choices.map((c) => `'${c}'`).join(' or ')}, got ${describeValue(v)}`);
}

/** A shape argument: an array of non-negative integer sizes (a ShapeError otherwise). */
export function checkShapeArg(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) {
    const hint = typeof shape === 'number' ? ` (write [${shape}])` : '';
    throw new ShapeError(`${op}: shape must be an array of sizes, got ${describeValue(shape)}${hint}`);
  }
  shape.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new ShapeError(`${op}: invalid shape [${shape.map(String).join(',')}]: size ${i} is ${describeValue(d)}, sizes must be non-negative integers`);
    }
  });
  return [...shape] as number[];
}

/** An options object (or undefined/null for none), checked for unknown keys. */
export function checkOptions<T extends object>(op: string, opts: unknown, known: readonly string[]): Partial<T> {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object' || Array.isArray(opts)) {
    throw new KilnError(`${op}: options must be an object such as { ${known.slice(0, 2).map((k) => `${k}: …`).join(', ')} }, got ${describeValue(opts)}`);
  }
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) {
      throw new KilnError(`${op}: unknown option '${key}'; the options are ${known.map((k) => `'${k}'`).join(', ')}`);
    }
  }
  return opts as Partial<T>;
}

/**
 * The most elements one buffer may hold: 4 GiB of float32 (the wasm heap's limit; WebGPU buffers and
 * typed arrays are smaller or equal in practice). Checked before anything of that size is filled.
 */
export const MAX_BUFFER_BYTES = 2 ** 32;

/** Throws unless `elements` of `bytesPer` bytes fit in one buffer, naming the op and the shape. */
export function checkAllocation(op: string, shape: readonly number[], elements: number, bytesPer: number): void {
  if (!(elements * bytesPer <= MAX_BUFFER_BYTES)) {
    const gib = (elements * bytesPer) / 2 ** 30;
    throw new KilnError(`${op}: shape [${shape.join(',')}] needs ${elements} elements (${gib >= 1024 ? gib.toExponential(2) : gib.toFixed(1)} GiB), more than one buffer can hold (${MAX_BUFFER_BYTES / 2 ** 30} GiB)`);
  }
}
