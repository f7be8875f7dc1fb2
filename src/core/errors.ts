// Error types shared by every layer. Messages name the op, the shapes/dtypes and what was expected.

/** Base class of every error kiln throws on bad input. */
export class KilnError extends Error {
  override name = 'KilnError';
}

/** A shape rule failed (broadcast, matmul dims, reshape sizes, bad dim index). */
export class ShapeError extends KilnError {
  override name = 'ShapeError';
}

/** A dtype rule failed (e.g. a float op on bool, an integer index that is not int32). */
export class DTypeError extends KilnError {
  override name = 'DTypeError';
}

/** Autograd misuse: backward on a non-scalar without a gradient, stale saved tensors, in-place on leaves. */
export class AutogradError extends KilnError {
  override name = 'AutogradError';
}

/** A backend could not allocate: names the op where known, the bytes asked for and the bytes live. */
export class OutOfMemoryError extends KilnError {
  override name = 'OutOfMemoryError';
  constructor(message: string, readonly requestedBytes: number, readonly liveBytes: number) {
    super(message);
  }
}

/** Formats a shape the way messages print it: [2,3]. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Exhaustiveness check for discriminated unions. */
export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}
