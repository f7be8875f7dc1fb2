// Recurrent layers: RNN, GRU and LSTM, unrolled over the (static) sequence with kiln ops, so they
// run eagerly, compile into one graph and differentiate. Directions forward, reverse and
// bidirectional; sequence_lens masks finished sequences; layout 1 is batch-first.
import * as A from '../../activations.js';
import * as F from '../../functional.js';
import type { Tensor } from '../../tensor.js';
import { register, type OpContext } from '../registry.js';
import { filled } from './util.js';

type Activation = (x: Tensor) => Tensor;

/** The activation functions named by `activations`, taking alpha/beta from their lists in order. */
function activations(ctx: OpContext, defaults: readonly string[], directions: number): Activation[] {
  const names = ctx.attrs.has('activations') ? rawStrings(ctx, 'activations') : [...defaults, ...(directions === 2 ? defaults : [])];
  const alphas = ctx.attrs.floats('activation_alpha', []), betas = ctx.attrs.floats('activation_beta', []);
  let ai = 0, bi = 0;
  const alpha = (def: number) => (ai < alphas.length ? alphas[ai++] : def);
  const beta = (def: number) => (bi < betas.length ? betas[bi++] : def);
  return names.map((n): Activation => {
    switch (n.toLowerCase()) {
      case 'sigmoid': return (x) => x.sigmoid();
      case 'tanh': return (x) => x.tanh();
      case 'relu': return (x) => x.relu();
      case 'hardsigmoid': { const a = alpha(0.2), b = beta(0.5); return (x) => x.mul(a).add(b).clamp(0, 1); }
      case 'leakyrelu': { const a = alpha(0.01); return (x) => A.leakyRelu(x, a); }
      case 'thresholdedrelu': { const a = alpha(1); return (x) => x.where(x.gt(a), 0); }
      case 'scaledtanh': { const a = alpha(1), b = beta(1); return (x) => x.mul(b).tanh().mul(a); }
      case 'affine': { const a = alpha(1), b = beta(0); return (x) => x.mul(a).add(b); }
      case 'elu': { const a = alpha(1); return (x) => A.elu(x, a); }
      case 'softsign': return (x) => A.softsign(x);
      case 'softplus': return (x) => x.softplus();
      default: return ctx.unsupported(`activation '${n}'`);
    }
  });
}

function rawStrings(ctx: OpContext, name: string): string[] {
  return ctx.attrs.raw(name)!.strings.map((s) => new TextDecoder().decode(s));
}

interface Common {
  x: Tensor; // [seq, batch, input]
  directions: number;
  hidden: number;
  seq: number;
  batch: number;
  lens: Tensor | null; // [batch] int32
  clip: number | null;
  layout: number;
}

function common(ctx: OpContext): Common {
  const layout = ctx.attrs.int('layout', 0);
  let x = ctx.tensor(0);
  if (layout === 1) x = x.transpose(0, 1);
  const direction = ctx.attrs.string('direction', 'forward');
  if (!['forward', 'reverse', 'bidirectional'].includes(direction)) ctx.fail(`direction '${direction}' is not forward, reverse or bidirectional`);
  const w = ctx.tensor(1);
  const hidden = ctx.attrs.int('hidden_size', w.shape[1] / (ctx.opType === 'LSTM' ? 4 : ctx.opType === 'GRU' ? 3 : 1));
  return {
    x, directions: direction === 'bidirectional' ? 2 : 1, hidden, seq: x.shape[0], batch: x.shape[1],
    lens: ctx.has(4) ? ctx.tensor(4).to('int32') : null,
    clip: ctx.attrs.has('clip') ? ctx.attrs.float('clip') : null,
    layout,
  };
}

const isReverse = (ctx: OpContext, d: number) => ctx.attrs.string('direction', 'forward') === 'reverse' || d === 1;

/** Slices direction d of a [dirs, ...] tensor. */
const dir = (t: Tensor, d: number) => t.narrow(0, d, 1).squeeze(0);

/**
 * Runs `cell` over the sequence for each direction. The cell maps (x_t, state) to the new state;
 * state[0] is h. Steps past a sequence's length leave its state alone and output zeros.
 */
function unroll(ctx: OpContext, c: Common, init: (d: number) => Tensor[], cell: (d: number, xt: Tensor, state: Tensor[]) => Tensor[]): { y: Tensor; last: Tensor[] } {
  const ys: Tensor[] = [];
  const lasts: Tensor[][] = [];
  for (let d = 0; d < c.directions; d++) {
    let state = init(d);
    const out: Tensor[] = new Array(c.seq);
    const order = Array.from({ length: c.seq }, (_, i) => (isReverse(ctx, d) ? c.seq - 1 - i : i));
    for (const t of order) {
      const next = cell(d, c.x.narrow(0, t, 1).squeeze(0), state);
      if (c.lens) {
        const live = c.lens.gt(t).unsqueeze(1); // [batch, 1]
        state = next.map((s, k) => s.where(live, state[k]));
        out[t] = next[0].where(live, 0);
      } else {
        state = next;
        out[t] = next[0];
      }
    }
    ys.push(c.seq ? kilnStack(out) : c.x.narrow(2, 0, 0));
    lasts.push(state);
  }
  // Y: [seq, dirs, batch, hidden] (layout 1: [batch, seq, dirs, hidden]); Y_h (Y_c): [dirs, batch, hidden].
  let y = ys.length === 1 ? ys[0].unsqueeze(1) : stackAt(ys, 1);
  if (c.layout === 1) y = y.permute([2, 0, 1, 3]);
  const last = lasts[0].map((_, k) => {
    const s = lasts.length === 1 ? lasts[0][k].unsqueeze(0) : stackAt(lasts.map((l) => l[k]), 0);
    return c.layout === 1 ? s.transpose(0, 1) : s;
  });
  return { y, last };
}

const kilnStack = (ts: Tensor[]) => F.stack(ts, 0);
const stackAt = (ts: Tensor[], dim: number) => F.stack(ts, dim);

/** Gate pre-activations x·Wᵀ + h·Rᵀ + biases, split into `gates` chunks of `hidden`, clipped. */
function gatesOf(c: Common, xt: Tensor, h: Tensor, w: Tensor, r: Tensor, bias: Tensor | null): Tensor {
  let g = xt.matmul(w.mT()).add(h.matmul(r.mT()));
  if (bias) g = g.add(bias);
  return c.clip !== null ? g.clamp(-c.clip, c.clip) : g;
}
const chunk = (t: Tensor, i: number, hidden: number) => t.narrow(-1, i * hidden, hidden);
const clipped = (c: Common, t: Tensor) => (c.clip !== null ? t.clamp(-c.clip, c.clip) : t);

function initial(ctx: OpContext, c: Common, index: number, d: number): Tensor {
  if (ctx.has(index)) {
    let h0 = ctx.tensor(index);
    if (c.layout === 1) h0 = h0.transpose(0, 1);
    return dir(h0, d);
  }
  return filled(ctx, [c.batch, c.hidden], 0, 'float32');
}

register('RNN', {
  since: 7,
  run: (ctx) => {
    const c = common(ctx);
    const acts = activations(ctx, ['Tanh'], c.directions);
    const w = ctx.tensor(1), r = ctx.tensor(2), b = ctx.has(3) ? ctx.tensor(3) : null;
    const { y, last } = unroll(ctx, c, (d) => [initial(ctx, c, 5, d)], (d, xt, [h]) => {
      const bias = b ? chunk(dir(b, d), 0, c.hidden).add(chunk(dir(b, d), 1, c.hidden)) : null;
      return [acts[d](gatesOf(c, xt, h, dir(w, d), dir(r, d), bias))];
    });
    return [y, last[0]];
  },
});

register('GRU', {
  since: 7,
  run: (ctx) => {
    const c = common(ctx);
    const [f, g] = [0, 1];
    const acts = activations(ctx, ['Sigmoid', 'Tanh'], c.directions);
    const w = ctx.tensor(1), r = ctx.tensor(2), b = ctx.has(3) ? ctx.tensor(3) : null;
    const beforeReset = ctx.attrs.int('linear_before_reset', 0) === 1;
    const H = c.hidden;
    const { y, last } = unroll(ctx, c, (d) => [initial(ctx, c, 5, d)], (d, xt, [h]) => {
      const wd = dir(w, d), rd = dir(r, d);
      const wb = b ? dir(b, d).narrow(0, 0, 3 * H) : null, rb = b ? dir(b, d).narrow(0, 3 * H, 3 * H) : null;
      const xw = wb ? xt.matmul(wd.mT()).add(wb) : xt.matmul(wd.mT()); // [batch, 3H]: z, r, h
      const rz = rd.narrow(0, 0, 2 * H);
      let hr = h.matmul(rz.mT());
      if (rb) hr = hr.add(rb.narrow(0, 0, 2 * H));
      const zr = clipped(c, chunk(xw, 0, H).add(chunk(hr, 0, H)));
      const rr = clipped(c, chunk(xw, 1, H).add(chunk(hr, 1, H)));
      const z = acts[2 * d + f](zr), rt = acts[2 * d + f](rr);
      const rh = rd.narrow(0, 2 * H, H);
      const rbh = rb ? rb.narrow(0, 2 * H, H) : null;
      const recur = beforeReset
        ? rt.mul(rbh ? h.matmul(rh.mT()).add(rbh) : h.matmul(rh.mT()))
        : (rbh ? rt.mul(h).matmul(rh.mT()).add(rbh) : rt.mul(h).matmul(rh.mT()));
      const ht = acts[2 * d + g](clipped(c, chunk(xw, 2, H).add(recur)));
      return [z.neg().add(1).mul(ht).add(z.mul(h))];
    });
    return [y, last[0]];
  },
});

register('LSTM', {
  since: 7,
  run: (ctx) => {
    const c = common(ctx);
    if (ctx.attrs.int('input_forget', 0) === 1) ctx.unsupported('input_forget=1');
    const acts = activations(ctx, ['Sigmoid', 'Tanh', 'Tanh'], c.directions);
    const w = ctx.tensor(1), r = ctx.tensor(2), b = ctx.has(3) ? ctx.tensor(3) : null;
    const p = ctx.has(7) ? ctx.tensor(7) : null;
    const H = c.hidden;
    const { y, last } = unroll(ctx, c, (d) => [initial(ctx, c, 5, d), initial(ctx, c, 6, d)], (d, xt, [h, cPrev]) => {
      const bias = b ? dir(b, d).narrow(0, 0, 4 * H).add(dir(b, d).narrow(0, 4 * H, 4 * H)) : null;
      const gates = gatesOf(c, xt, h, dir(w, d), dir(r, d), bias); // i, o, f, c
      const [f, g, hAct] = [acts[3 * d], acts[3 * d + 1], acts[3 * d + 2]];
      const pd = p ? dir(p, d) : null; // peepholes: i, o, f
      const peep = (k: number, cell: Tensor, t: Tensor) => (pd ? clipped(c, t.add(cell.mul(pd.narrow(0, k * H, H)))) : t);
      const i = f(peep(0, cPrev, chunk(gates, 0, H)));
      const ft = f(peep(2, cPrev, chunk(gates, 2, H)));
      const ct = g(chunk(gates, 3, H));
      const cNew = ft.mul(cPrev).add(i.mul(ct));
      const o = f(peep(1, cNew, chunk(gates, 1, H)));
      return [o.mul(hAct(cNew)), cNew];
    });
    return [y, last[0], last[1]];
  },
});
