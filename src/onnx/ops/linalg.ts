// Matrix products: MatMul, Gemm, and Einsum (diagonals, sums, then one batched matmul per pair).
import * as F from '../../functional.js';
import type { Tensor } from '../../tensor.js';
import { register, type OpContext } from '../registry.js';
import { idsAlong, simple } from './util.js';

register('MatMul', simple(1, (ctx) => F.matmul(ctx.tensor(0), ctx.tensor(1))));

register('Gemm', simple(1, (ctx) => {
  let a = ctx.tensor(0), b = ctx.tensor(1);
  if (ctx.attrs.int('transA', 0)) a = a.mT();
  if (ctx.attrs.int('transB', 0)) b = b.mT();
  const alpha = ctx.attrs.float('alpha', 1), beta = ctx.attrs.float('beta', 1);
  let y = a.matmul(b);
  if (alpha !== 1) y = y.mul(alpha);
  if (ctx.has(2) && beta !== 0) { const c = ctx.tensor(2); y = y.add(beta === 1 ? c : c.mul(beta)); }
  return y;
}));

/** One operand of an einsum: its tensor and one label per dim. */
interface Term { t: Tensor; labels: string[] }

/** Parses "ab,bc->ac" (with '...' and implicit output) into labelled operands and output labels. */
function parseEinsum(ctx: OpContext, eq: string, xs: readonly Tensor[]): { terms: Term[]; out: string[] } {
  const [lhs, rhs] = eq.replace(/\s/g, '').split('->');
  const specs = lhs.split(',');
  if (specs.length !== xs.length) ctx.fail(`equation '${eq}' names ${specs.length} operands, ${xs.length} given`);
  let ellipsisRank = 0;
  specs.forEach((s, i) => { if (s.includes('...')) ellipsisRank = Math.max(ellipsisRank, xs[i].ndim - (s.length - 3)); });
  const ell = Array.from({ length: ellipsisRank }, (_, i) => `…${i}`);
  const expand = (s: string, rank: number): string[] => {
    if (!s.includes('...')) return [...s];
    const [pre, post] = s.split('...');
    const n = rank - pre.length - post.length;
    return [...pre, ...ell.slice(ellipsisRank - n), ...post];
  };
  const terms = specs.map((s, i) => {
    const labels = expand(s, xs[i].ndim);
    if (labels.length !== xs[i].ndim) ctx.fail(`operand ${i} '${s}' has ${labels.length} labels for rank ${xs[i].ndim}`);
    return { t: xs[i], labels };
  });
  let out: string[];
  if (rhs !== undefined) out = expand(rhs, ellipsisRank + rhs.replace('...', '').length);
  else {
    // Implicit output: the ellipsis dims, then the labels used once, sorted.
    const counts = new Map<string, number>();
    for (const t of terms) for (const l of t.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    out = [...ell, ...[...counts].filter(([l, c]) => c === 1 && !l.startsWith('…')).map(([l]) => l).sort()];
  }
  return { terms, out };
}

/** Takes the diagonal of repeated labels and sums labels nobody else needs. */
function simplify(ctx: OpContext, term: Term, keep: Set<string>): Term {
  let { t, labels } = term;
  for (let i = 0; i < labels.length; i++) {
    const j = labels.indexOf(labels[i], i + 1);
    if (j < 0) continue;
    // x[.., i, .., i, ..] -> the diagonal, as a mask with the identity and a sum over the second copy.
    const n = t.shape[i];
    const eye = idsAlong(ctx, n, i, t.ndim).eq(idsAlong(ctx, n, j, t.ndim));
    t = t.where(eye, 0).sum(j);
    labels = labels.filter((_, k) => k !== j);
    i--;
  }
  const drop = labels.flatMap((l, i) => (keep.has(l) ? [] : [i]));
  if (drop.length) { t = t.sum(drop); labels = labels.filter((_, i) => !drop.includes(i)); }
  return { t, labels };
}

/** Contracts two terms with one batched matmul: [batch, left, contracted] @ [batch, contracted, right]. */
function contract(a: Term, b: Term, keep: Set<string>): Term {
  const inB = new Set(b.labels), inA = new Set(a.labels);
  const batch = a.labels.filter((l) => inB.has(l) && keep.has(l));
  const summed = a.labels.filter((l) => inB.has(l) && !keep.has(l));
  const left = a.labels.filter((l) => !inB.has(l));
  const right = b.labels.filter((l) => !inA.has(l));
  const size = (t: Term, l: string) => t.t.shape[t.labels.indexOf(l)];
  const dim = (l: string) => Math.max(a.labels.includes(l) ? size(a, l) : 1, b.labels.includes(l) ? size(b, l) : 1);
  const order = (t: Term, ls: string[]) => t.t.permute(ls.map((l) => t.labels.indexOf(l)));
  const prod = (ls: string[], t: Term) => ls.reduce((p, l) => p * size(t, l), 1);
  const am = order(a, [...batch, ...left, ...summed]).reshape([...batch.map((l) => size(a, l)), prod(left, a), prod(summed, a)]);
  const bm = order(b, [...batch, ...summed, ...right]).reshape([...batch.map((l) => size(b, l)), prod(summed, b), prod(right, b)]);
  const y = am.matmul(bm).reshape([...batch.map(dim), ...left.map((l) => size(a, l)), ...right.map((l) => size(b, l))]);
  return { t: y, labels: [...batch, ...left, ...right] };
}

register('Einsum', simple(12, (ctx) => {
  const xs = Array.from({ length: ctx.inputCount }, (_, i) => ctx.tensor(i));
  const { terms, out } = parseEinsum(ctx, ctx.attrs.string('equation'), xs);
  // A label survives a step while the output or a term not yet contracted uses it.
  const needed = (rest: Term[]) => new Set([...out, ...rest.flatMap((t) => t.labels)]);
  let acc = simplify(ctx, terms[0], needed(terms.slice(1)));
  for (let i = 1; i < terms.length; i++) {
    const later = terms.slice(i + 1);
    const next = simplify(ctx, terms[i], needed([acc, ...later]));
    acc = contract(acc, next, needed(later));
  }
  acc = simplify(ctx, acc, new Set(out));
  return acc.t.permute(out.map((l) => acc.labels.indexOf(l)));
}));
