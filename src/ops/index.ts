// THE op registry: every primitive, by name. Composites (src/functional.ts) are built from these.
import { ELEMENTWISE } from './elementwise.js';
import { LINALG } from './linalg.js';
import { MOVEMENT } from './movement.js';
import { REDUCE } from './reduce.js';
import type { OpDef } from './types.js';

export const OPS = { ...ELEMENTWISE, ...REDUCE, ...MOVEMENT, ...LINALG } as const;
export type OpName = keyof typeof OPS;
export const OP_NAMES = Object.keys(OPS) as OpName[];

/** Looks up a primitive by name. */
export function getOp(name: OpName): OpDef {
  return OPS[name];
}

export type { OpDef } from './types.js';
