// wasm backend: kernel modules shared across sizes. A kernel compile() planned for dynamic dims
// (`dynamicOuter`, src/core/kernel.ts) is built so that the size of the outermost dim of its iteration
// space is read at run time: the templates take row ranges (elementwise, reduce) or the row count
// (matmul without batch) as parameters and never bake that size in. Its module is then cached under
// the kernel printed with that size left out, and serves every kernel that differs only in it; every
// other number (strides, offsets, the other sizes, masks, gather extents) stays in the key verbatim
// and stays a compile-time constant, as in a kernel built for one size.
import type { Expr, Kernel, View } from '../../src/core/kernel.js';
import { exprNodes, kernelExprs, mapKernelExprs, printKernel } from '../../src/core/kernel.js';
import { assertNever } from '../../src/core/errors.js';
import { elementwiseSizeGeneric } from './elementwise.js';

/** The size the key prints in place of the outer size (no real size is negative). */
const RUNTIME_SIZE = -1;

/** The outer size of a kernel and the views whose dim 0 walks it. */
function outerOf(k: Kernel): { size: number; views: View[] } | null {
  const loads = exprNodes(kernelExprs(k)).filter((e): e is Extract<Expr, { kind: 'load' }> => e.kind === 'load');
  const views = [...loads.map((e) => e.view), ...k.outputs.flatMap((o) => (o.view ? [o.view] : []))];
  switch (k.kind) {
    case 'elementwise': return k.shape.length ? { size: k.shape[0], views } : null;
    case 'reduce': return k.outer.length ? { size: k.outer[0], views } : null;
    // Without batch dims the outer dim is m: A's rows (B's dim 0 is k, not abstracted).
    case 'matmul': return k.batch.length ? { size: k.batch[0], views: [...views, k.a.view, k.b.view] } : { size: k.m, views: [...views, k.a.view] };
    default: return assertNever(k, 'kernel');
  }
}

/** True when a view's mask on dim 0 (if any) lets every row through. */
const fullDim0 = (v: View): boolean => !v.mask || (v.mask[0][0] <= 0 && v.mask[0][1] >= v.shape[0]);

/**
 * The key of the module shared by every kernel that differs from `k` only in its outer size, or null
 * where `k` gets a module of its own: not marked dynamic, an outer size below 2 (size-1 dims are
 * dropped from loop nests, so the loops differ), a view that masks or gathers along dim 0 (a mask
 * there that lets every row through is fine: the loop nests trim it away), a masked matmul operand,
 * or a template that would bake that size in (an elementwise kernel walking one group of dims).
 */
export function sharedModuleKey(k: Kernel): string | null {
  if (!k.dynamicOuter) return null;
  const outer = outerOf(k);
  if (!outer || outer.size < 2) return null;
  if (outer.views.some((v) => v.shape[0] !== outer.size || !fullDim0(v))) return null;
  if (exprNodes(kernelExprs(k)).some((e) => e.kind === 'load' && e.gather?.axis === 0)) return null;
  // Matmul operands are never masked (the IR materialises padding first); packA would test a mask on
  // dim 0 against its bounds untrimmed.
  if (k.kind === 'matmul' && (k.a.view.mask || k.b.view.mask)) return null;
  // An operand with more than an input and a view (a form added later) keeps a module per size until
  // its template is checked size-independent (KILN_WASM_CHECK_SHARED, test/wasm/shared.test.ts).
  if (k.kind === 'matmul' && ![k.a, k.b].every((o) => Object.keys(o).every((key) => key === 'input' || key === 'view'))) return null;
  if (k.kind === 'elementwise' && !elementwiseSizeGeneric(k)) return null;
  return `shared|${printKernel(withOuterSize(k, RUNTIME_SIZE))}`;
}

/** `k` with its outer size (in the iteration space and in every view's dim 0) replaced by `size`. */
function withOuterSize(k: Kernel, size: number): Kernel {
  const view = (v: View): View => ({
    ...v, shape: [size, ...v.shape.slice(1)],
    ...(v.mask ? { mask: [[0, size] as const, ...v.mask.slice(1)] } : {}),
  });
  const kk = mapKernelExprs(k, (e) => (e.kind === 'load' ? { ...e, view: view(e.view) } : e));
  const outputs = <O extends { readonly view?: View }>(os: readonly O[]): O[] => os.map((o) => (o.view ? { ...o, view: view(o.view) } : o));
  switch (kk.kind) {
    case 'elementwise': return { ...kk, shape: [size, ...kk.shape.slice(1)], outputs: outputs(kk.outputs) };
    case 'reduce': return { ...kk, outer: [size, ...kk.outer.slice(1)], outputs: outputs(kk.outputs) };
    case 'matmul': {
      const [out] = outputs(kk.outputs);
      return kk.batch.length
        ? { ...kk, batch: [size, ...kk.batch.slice(1)], a: { ...kk.a, view: view(kk.a.view) }, b: { ...kk.b, view: view(kk.b.view) }, outputs: [out] }
        : { ...kk, m: size, a: { ...kk.a, view: view(kk.a.view) }, outputs: [out] };
    }
    default: return assertNever(kk, 'kernel');
  }
}
