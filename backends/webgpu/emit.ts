// webgpu backend, codegen core: turns kernel-IR expressions and views into WGSL statements.
// Every number of a kernel (shapes, strides, offsets, masks, constants) becomes a slot of the uniform
// buffer `U`, so the WGSL text depends only on the kernel's structure (ranks, which strides are 0,
// which views are contiguous, the expression DAG) and the text itself is the pipeline cache key.
import type { DType } from '../../src/core/dtype.js';
import type { Expr, View } from '../../src/core/kernel.js';
import { isContiguousView, renderDag } from '../../src/core/kernel.js';
import { assertNever } from '../../src/core/errors.js';
import { opCode } from '../../src/core/index-check.js';
import { type Arg, type WgslHelper, WGSL_OPS, as, castWgsl, wgslType } from './wgsl-ops.js';

const f32Bits = new Float32Array(1);
const u32Bits = new Uint32Array(f32Bits.buffer);

/** The uniform words of one dispatch; each `u32/i32/f32` call allocates a slot and returns its WGSL. */
export class Params {
  readonly words: number[] = [];

  private slot(word: number): string {
    const i = this.words.push(word >>> 0) - 1;
    return `U[${i >> 2}].${'xyzw'[i & 3]}`;
  }

  u32(v: number): string {
    return this.slot(v);
  }

  i32(v: number): string {
    return `bitcast<i32>(${this.slot(v | 0)})`;
  }

  f32(v: number): string {
    f32Bits[0] = v;
    return `bitcast<f32>(${this.slot(u32Bits[0])})`;
  }

  /** Number of vec4<u32> the uniform array declares (at least 1). */
  get vec4s(): number {
    return Math.max(1, Math.ceil(this.words.length / 4));
  }
}

/** How expressions see the iteration space at the point they are evaluated. */
export interface Scope {
  /** i32 WGSL for coordinate `d` of the iteration space. */
  coord(d: number): string;
  /** i32 WGSL for the flat row-major index of the point, or null where contiguous loads cannot use it. */
  readonly flat: string | null;
  /** WGSL for result `i` of the kernel's reductions (or the matmul dot product). */
  acc(i: number): string;
}

/** A storage binding the shader reads or writes. */
export interface Slot {
  readonly dtype: DType;
  readonly write: boolean;
}

/** Coordinates decoded lazily from a flat index: the decode is emitted only if some load asks for one. */
export class Coords {
  private used = false;

  constructor(
    private readonly names: readonly string[],
    /** The dims' sizes (their uniform slots are allocated only if a coordinate is used). */
    private readonly dims: readonly number[],
    private readonly params: Params,
    private readonly index: string,
  ) {}

  /** WGSL name of coordinate `d` (local to this decoder). */
  coord(d: number): string {
    this.used = true;
    return this.names[d];
  }

  /** Statements defining the coordinates (empty when none was used). */
  decode(): string[] {
    if (!this.used || this.names.length === 0) return [];
    const n = this.names.length;
    if (n === 1) return [`let ${this.names[0]} = ${this.index};`];
    const q = `q_${this.names[0]}`;
    const lines = [`var ${q} = ${this.index};`];
    for (let d = n - 1; d >= 1; d--) {
      const size = this.params.i32(this.dims[d]);
      lines.push(`let ${this.names[d]} = ${q} % ${size};`, `${q} = ${q} / ${size};`);
    }
    lines.push(`let ${this.names[0]} = q_${this.names[0]};`);
    return lines;
  }
}

/** Storage element type of a dtype (bool is stored as u32). */
export function storageType(dtype: DType): 'f32' | 'i32' | 'u32' {
  return dtype === 'float32' ? 'f32' : dtype === 'int32' ? 'i32' : 'u32';
}

/** Emits expressions of one kernel; collects helpers and uniform params as it goes. */
export class Emitter {
  readonly params = new Params();
  readonly helpers = new Set<WgslHelper>();
  private tmp = 0;

  constructor(
    /** Binding name and slot of kernel input i (null when the kernel never reads it). */
    private readonly inputs: readonly ({ readonly name: string; readonly slot: Slot } | null)[],
  ) {}

  readonly use = (h: WgslHelper): string => {
    this.helpers.add(h);
    return h;
  };

  /** A fresh local name. */
  fresh(prefix: string): string {
    return `${prefix}${this.tmp++}`;
  }

  /** Element index of `view` at the scope's point (gather: coordinate `axis` is `gather.index`), and its mask test. */
  address(view: View, scope: Scope, gather?: { readonly axis: number; readonly index: string }): { index: string; mask: string | null } {
    const coord = (d: number): string => (gather && d === gather.axis ? gather.index : scope.coord(d));
    let index: string;
    if (!gather && scope.flat !== null && isContiguousView(view)) {
      index = `(${this.params.i32(view.offset)} + ${scope.flat})`;
    } else {
      const terms = [this.params.i32(view.offset)];
      view.strides.forEach((s, d) => {
        // Stride 0 (broadcast) is part of the kernel's pattern: no term, no slot.
        if (s !== 0 || (gather && d === gather.axis)) terms.push(`${coord(d)} * ${this.params.i32(s)}`);
      });
      index = `(${terms.join(' + ')})`;
    }
    let mask: string | null = null;
    if (view.mask) {
      const tests = view.mask.map(([lo, hi], d) => {
        const c = coord(d);
        return `${c} >= ${this.params.i32(lo)} && ${c} < ${this.params.i32(hi)}`;
      });
      mask = tests.length ? `(${tests.join(' && ')})` : null;
    }
    return { index, mask };
  }

  /** A load of input `input` through `view` (masked-out points read 0), as a value of `dtype`. */
  load(input: number, view: View, dtype: DType, scope: Scope, lines: string[], gather?: { readonly axis: number; readonly index: string }): string {
    const b = this.inputs[input];
    if (!b) throw new Error(`webgpu codegen: input ${input} is read but has no binding`);
    const { index, mask } = this.address(view, scope, gather);
    const raw = (i: string): string => {
      const v = `${b.name}[${i}]`;
      const reg: Arg = { code: b.slot.dtype === 'bool' ? `bitcast<i32>(${v})` : v, dtype: b.slot.dtype };
      return castValue(reg, dtype, this.use);
    };
    if (!mask) return raw(index);
    // Outside the mask the address may be out of range: read element 0 instead, then select 0.
    const m = this.fresh('msk');
    lines.push(`let ${m} = ${mask};`);
    return `select(${zero(dtype)}, ${raw(`select(0, ${index}, ${m})`)}, ${m})`;
  }

  /** Emits `roots` (shared nodes become `let` temps in `lines`) and returns their values. */
  exprs(roots: readonly Expr[], scope: Scope, lines: string[]): Arg[] {
    const render = (e: Expr, gen: (x: Expr) => string): string => {
      switch (e.kind) {
        case 'load': {
          const g = e.gather ? { axis: e.gather.axis, index: this.checkedIndex(as({ code: gen(e.gather.index), dtype: e.gather.index.dtype }, 'i32', this.use), e.gather) } : undefined;
          return this.load(e.input, e.view, e.dtype, scope, lines, g);
        }
        case 'const':
          return e.dtype === 'float32' ? this.params.f32(e.value) : this.params.i32(castInt(e.value, e.dtype));
        case 'op': {
          const args = e.args.map((a): Arg => ({ code: gen(a), dtype: a.dtype }));
          const c = WGSL_OPS[e.op](args, e.dtype, this.use);
          if (c === null) throw new Error(`scalar op ${e.op} has no ${e.dtype} form`);
          return c;
        }
        case 'cast': return castWgsl({ code: gen(e.x), dtype: e.x.dtype }, e.dtype, this.use);
        case 'acc': return scope.acc(e.index);
        default: return assertNever(e, 'expr');
      }
    };
    const bind = (e: Expr, code: string): string => {
      const t = this.fresh('tmp');
      lines.push(`let ${t}: ${wgslType(e.dtype)} = ${code};`);
      return t;
    };
    // A masked load also gets a temp, right after the `let` of its mask test (see load()).
    const codes = renderDag(roots, render, bind, (e) => e.kind === 'load' && e.view.mask !== undefined);
    return roots.map((e, i) => ({ code: codes[i], dtype: e.dtype }));
  }

  /**
   * A gathered index checked against its source's extent (k_ix): an index outside 0..size-1 reads
   * element 0 and is recorded in the kernel's error buffer, which the backend reads back with the next
   * read (src/core/index-check.ts).
   */
  checkedIndex(index: string, g: { readonly axis: number; readonly size: number; readonly op: string }): string {
    return `${this.use('k_ix')}(${index}, ${this.params.i32(g.size)}, ${this.params.u32(opCode(g.op))}, ${this.params.u32(g.axis)})`;
  }

  /** A value converted to `to` by the IR's cast rules. */
  castArg(v: Arg, to: DType): string {
    return castWgsl(v, to, this.use);
  }

  /** The statement storing `value` at `index` of a binding (converted as a typed-array store converts). */
  store(name: string, slot: Slot, index: string, value: Arg): string {
    const v = slot.dtype === 'float32' ? as(value, 'f32', this.use)
      : slot.dtype === 'int32' ? as(value, 'i32', this.use)
        : `bitcast<u32>(${as(value, 'i32', this.use)})`;
    return `${name}[${index}] = ${v};`;
  }
}

/** Converts a register value to `to` the way the cpu reference does for an output of another dtype. */
export function castValue(x: Arg, to: DType, use: (h: WgslHelper) => string): string {
  if (x.dtype === to) return x.code;
  if (to === 'bool') return as(x, 'i32', use); // a buffer of another dtype read as bool: its numeric value
  return castWgsl(x, to, use);
}

/** The zero literal of a dtype's register type. */
export function zero(dtype: DType): string {
  return dtype === 'float32' ? '0.0' : '0';
}

function castInt(v: number, dtype: DType): number {
  if (dtype === 'bool') return v !== 0 ? 1 : 0;
  return Number.isNaN(v) ? 0 : Math.trunc(v) | 0;
}
