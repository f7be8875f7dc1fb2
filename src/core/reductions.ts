// What each reduction computes, as data: lowering, the registry and every backend read this table
// instead of switching on reduction names, so a reduction is defined once. A new way of combining
// or a new NaN rule is a new union member, and tsc then names every backend switch that must handle it.

interface Common {
  /** The accumulator's start (what an empty row gives) for float32 and for int32 partial values. */
  readonly identity: { readonly float32: number; readonly int32: number };
  /** Whether reducing an empty dimension is defined (by the identity) or an error (torch: max has no identity). */
  readonly empty: 'identity' | 'error';
}

/**
 * How a reduction combines the elements of a row: `combine` is the binary step, `arg` says whether
 * the result is the winner's int32 flat index within the row (first occurrence on ties) instead of
 * a value, and `nan` is the NaN rule: 'arithmetic' (NaN flows through the sum or product),
 * 'propagate' (any NaN in the row makes the result NaN) or 'wins' (NaN beats every number, so the
 * first NaN's index is the result, as in torch).
 */
export type ReduceSemantics =
  | (Common & { readonly combine: 'add' | 'mul'; readonly arg: false; readonly nan: 'arithmetic' })
  | (Common & { readonly combine: 'max' | 'min'; readonly arg: false; readonly nan: 'propagate' })
  | (Common & { readonly combine: 'max' | 'min'; readonly arg: true; readonly nan: 'wins' });

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

export const REDUCTIONS = {
  sum: { combine: 'add', arg: false, identity: { float32: 0, int32: 0 }, nan: 'arithmetic', empty: 'identity' },
  prod: { combine: 'mul', arg: false, identity: { float32: 1, int32: 1 }, nan: 'arithmetic', empty: 'identity' },
  max: { combine: 'max', arg: false, identity: { float32: -Infinity, int32: INT_MIN }, nan: 'propagate', empty: 'error' },
  min: { combine: 'min', arg: false, identity: { float32: Infinity, int32: INT_MAX }, nan: 'propagate', empty: 'error' },
  argmax: { combine: 'max', arg: true, identity: { float32: -Infinity, int32: INT_MIN }, nan: 'wins', empty: 'error' },
  argmin: { combine: 'min', arg: true, identity: { float32: Infinity, int32: INT_MAX }, nan: 'wins', empty: 'error' },
} as const satisfies Record<string, ReduceSemantics>;

/** A reduction's name (a key of REDUCTIONS). */
export type ReduceOp = keyof typeof REDUCTIONS;

/** The semantics of a reduction. */
export function reduction(op: ReduceOp): ReduceSemantics {
  return REDUCTIONS[op];
}

/** The identity for partial values of a dtype (bool partials count as int32). */
export function reduceIdentity(op: ReduceOp, float: boolean): number {
  const id = REDUCTIONS[op].identity;
  return float ? id.float32 : id.int32;
}
