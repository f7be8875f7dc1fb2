// einsum for any equation, lowered to views, reductions and batched matmuls: repeated labels in one
// operand take a diagonal, labels no one else needs are summed out, and operands are contracted left
// to right, each pair as one matmul over [batch, free, contracted] layouts (size-1 dims broadcast).
import { KilnError, ShapeError, fmtShape } from './core/errors.js';
import { sizeOf } from './core/shape.js';
import { diagonal } from './tensor-ops.js';
import type { Tensor } from './tensor.js';

/** An operand with one label per dim. Ellipsis dims get labels of their own ('0', '1', ...). */
interface Term { t: Tensor; labels: string[] }

const LETTER = /^[a-zA-Z]$/;

function parseSide(op: string, side: string, what: string): { labels: string[]; ellipsis: number } {
  const s = side.replace(/\s+/g, '');
  const at = s.indexOf('...');
  if (at >= 0 && s.indexOf('...', at + 1) >= 0) throw new KilnError(`${op}: ${what} '${side}' has more than one ellipsis`);
  const labels: string[] = [];
  for (let i = 0; i < s.length; i++) {
    if (i === at) { labels.push('...'); i += 2; continue; }
    if (!LETTER.test(s[i])) throw new KilnError(`${op}: invalid subscript '${s[i]}' in ${what} '${side}' (use letters a-z, A-Z and '...')`);
    labels.push(s[i]);
  }
  return { labels, ellipsis: at >= 0 ? labels.indexOf('...') : -1 };
}

/** Expands '...' into per-dim labels '0', '1', ... numbered from the right (so they broadcast). */
function expandEllipsis(op: string, labels: string[], ndim: number, sub: string, nEll: { n: number }): string[] {
  const at = labels.indexOf('...');
  if (at < 0) {
    if (labels.length !== ndim) throw new ShapeError(`${op}: subscripts '${sub}' name ${labels.length} dims but the operand has ${ndim}`);
    return labels;
  }
  const k = ndim - (labels.length - 1);
  if (k < 0) throw new ShapeError(`${op}: subscripts '${sub}' name ${labels.length - 1} dims but the operand has ${ndim}`);
  nEll.n = Math.max(nEll.n, k);
  const ell = Array.from({ length: k }, (_, i) => String(k - 1 - i)); // right-aligned: the last is '0'
  return [...labels.slice(0, at), ...ell, ...labels.slice(at + 1)];
}

/** Takes the diagonal of every label repeated within one operand. */
function dedupe(term: Term): Term {
  let { t, labels } = term;
  for (;;) {
    const i = labels.findIndex((l, j) => labels.indexOf(l) !== j);
    if (i < 0) return { t, labels };
    const first = labels.indexOf(labels[i]);
    if (t.shape[first] !== t.shape[i]) {
      throw new ShapeError(`einsum: label '${labels[i]}' repeats in one operand over sizes ${t.shape[first]} and ${t.shape[i]} (${fmtShape(t.shape)})`);
    }
    t = diagonal(t, 0, first, i); // the diagonal becomes the last dim
    labels = [...labels.filter((_, j) => j !== first && j !== i), labels[i]];
  }
}

/** Sums out the labels of `term` not in `keep`. */
function sumOut(term: Term, keep: ReadonlySet<string>): Term {
  const dims = term.labels.map((l, i) => (keep.has(l) ? -1 : i)).filter((i) => i >= 0);
  if (!dims.length) return term;
  return { t: term.t.sum(dims), labels: term.labels.filter((l) => keep.has(l)) };
}

/** The size of each label across terms (size-1 dims broadcast against others), checking agreement. */
function labelSizes(terms: readonly Term[]): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const { t, labels } of terms) {
    labels.forEach((l, i) => {
      const d = t.shape[i];
      const prev = sizes.get(l);
      if (prev === undefined || prev === 1) sizes.set(l, d);
      else if (d !== 1 && d !== prev) {
        const name = /^\d+$/.test(l) ? `ellipsis dim ${l}` : `label '${l}'`;
        throw new ShapeError(`einsum: ${name} has size ${prev} in one operand and ${d} in another`);
      }
    });
  }
  return sizes;
}

/** Contracts two terms over the labels in neither `keep`: one batched matmul. */
function contract(a: Term, b: Term, keep: ReadonlySet<string>, sizes: ReadonlyMap<string, number>): Term {
  const inA = new Set(a.labels), inB = new Set(b.labels);
  const batch = a.labels.filter((l) => inB.has(l) && keep.has(l));
  const summed = a.labels.filter((l) => inB.has(l) && !keep.has(l));
  const freeA = a.labels.filter((l) => !inB.has(l));
  const freeB = b.labels.filter((l) => !inA.has(l));
  const size = (ls: readonly string[]) => sizeOf(ls.map((l) => sizes.get(l)!));
  // a -> [batch, freeA, summed], b -> [batch, summed, freeB]; size-1 dims are expanded to the common size.
  const lay = (x: Term, order: readonly string[]) => {
    const p = x.t.permute(order.map((l) => x.labels.indexOf(l)));
    return p.expand(order.map((l) => sizes.get(l)!));
  };
  const A = lay(a, [...batch, ...freeA, ...summed]).reshape([size(batch), size(freeA), size(summed)]);
  const B = lay(b, [...batch, ...summed, ...freeB]).reshape([size(batch), size(summed), size(freeB)]);
  const out = A.matmul(B).reshape([...batch, ...freeA, ...freeB].map((l) => sizes.get(l)!));
  return { t: out, labels: [...batch, ...freeA, ...freeB] };
}

/**
 * torch.einsum(equation, ...operands): 'ij,jk->ik', 'bhqd,bhkd->bhqk', 'ii->i', 'ii', '...ij->...ji',
 * implicit output (labels used once, sorted, after the ellipsis dims) when '->' is absent.
 */
export function einsum(equation: string, ...operands: (Tensor | readonly Tensor[])[]): Tensor {
  const op = 'einsum';
  if (typeof equation !== 'string') throw new KilnError(`${op}: the first argument must be the equation string`);
  const ts = operands.length === 1 && Array.isArray(operands[0]) ? [...(operands[0] as readonly Tensor[])] : operands as Tensor[];
  const [lhs, rhs, extra] = equation.split('->');
  if (extra !== undefined) throw new KilnError(`${op}: equation '${equation}' has more than one '->'`);
  const subs = lhs.split(',');
  if (subs.length !== ts.length) throw new KilnError(`${op}: equation '${equation}' names ${subs.length} operand(s) but ${ts.length} were given`);
  const nEll = { n: 0 };
  let terms: Term[] = ts.map((t, i) => {
    const { labels } = parseSide(op, subs[i], 'operand subscripts');
    return dedupe({ t, labels: expandEllipsis(op, labels, t.ndim, subs[i], nEll) });
  });
  const ellLabels = Array.from({ length: nEll.n }, (_, i) => String(nEll.n - 1 - i));
  let out: string[];
  if (rhs === undefined) {
    const counts = new Map<string, number>();
    for (const s of subs) for (const l of parseSide(op, s, 'operand subscripts').labels) if (l !== '...') counts.set(l, (counts.get(l) ?? 0) + 1);
    out = [...ellLabels, ...[...counts].filter(([, c]) => c === 1).map(([l]) => l).sort()];
  } else {
    const { labels } = parseSide(op, rhs, 'output subscripts');
    const seen = new Set<string>();
    for (const l of labels) {
      if (seen.has(l)) throw new KilnError(`${op}: output subscript '${l}' appears more than once in '${equation}'`);
      seen.add(l);
    }
    const known = new Set(terms.flatMap((t) => t.labels));
    out = labels.flatMap((l) => (l === '...' ? ellLabels : [l]));
    const missing = out.find((l) => !known.has(l) && !/^\d+$/.test(l));
    if (missing) throw new KilnError(`${op}: output subscript '${missing}' does not appear in any operand of '${equation}'`);
  }
  const sizes = labelSizes(terms);
  const outSet = new Set(out);
  // Labels a term shares with no other term and the output are summed out at once.
  const needed = (i: number) => new Set([...out, ...terms.flatMap((t, j) => (j === i ? [] : t.labels))]);
  terms = terms.map((t, i) => sumOut(t, needed(i)));
  let acc = terms[0];
  for (let i = 1; i < terms.length; i++) {
    const later = new Set([...outSet, ...terms.slice(i + 1).flatMap((t) => t.labels)]);
    acc = contract(acc, terms[i], later, sizes);
    acc = sumOut(acc, later);
  }
  acc = sumOut(acc, outSet);
  // Ellipsis dims absent from every operand (none here) and broadcast size-1 dims expand to their size.
  const perm = out.map((l) => acc.labels.indexOf(l));
  if (perm.some((p) => p < 0)) throw new KilnError(`${op}: internal: output label missing`);
  const result = acc.t.permute(perm);
  return result.expand(out.map((l) => sizes.get(l)!));
}
