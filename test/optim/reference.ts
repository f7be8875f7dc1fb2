// Float64 re-statements of torch.optim's update rules and lr_scheduler's closed forms, sharing no
// code with kiln: the oracle the optimizer and scheduler tests compare against.

export interface SgdRef { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean; maximize?: boolean }
export interface AdamRef { lr: number; betas?: readonly [number, number]; eps?: number; weightDecay?: number; amsgrad?: boolean; maximize?: boolean; decoupled?: boolean }
export interface RmsRef { lr: number; alpha?: number; eps?: number; weightDecay?: number; momentum?: number; centered?: boolean; maximize?: boolean }
export interface AdagradRef { lr: number; lrDecay?: number; weightDecay?: number; initialAccumulatorValue?: number; eps?: number; maximize?: boolean }

/** One parameter's optimizer in float64: step(p, g) updates p in place. `lr` may change between steps. */
export interface RefOptimizer<O> { opts: O; step(p: number[], g: readonly number[]): void }

export function sgdRef(opts: SgdRef): RefOptimizer<SgdRef> {
  let buf: number[] | null = null;
  return {
    opts,
    step(p, g0) {
      const o = this.opts;
      const m = o.momentum ?? 0, damp = o.dampening ?? 0, wd = o.weightDecay ?? 0;
      let d = g0.map((g, i) => (o.maximize ? -g : g) + (wd !== 0 ? wd * p[i] : 0));
      if (m !== 0) {
        buf = buf === null ? [...d] : buf.map((b, i) => m * b + (1 - damp) * d[i]);
        d = o.nesterov ? d.map((x, i) => x + m * buf![i]) : [...buf];
      }
      d.forEach((x, i) => { p[i] -= o.lr * x; });
    },
  };
}

export function adamRef(opts: AdamRef): RefOptimizer<AdamRef> {
  let m: number[] | null = null, v: number[] = [], vmax: number[] = [];
  let t = 0;
  return {
    opts,
    step(p, g0) {
      const o = this.opts;
      const [b1, b2] = o.betas ?? [0.9, 0.999];
      const eps = o.eps ?? 1e-8, wd = o.weightDecay ?? (o.decoupled ? 1e-2 : 0);
      if (!m) { m = p.map(() => 0); v = p.map(() => 0); vmax = p.map(() => 0); }
      t++;
      if (o.decoupled) p.forEach((_, i) => { p[i] *= 1 - o.lr * wd; });
      const g = g0.map((x, i) => (o.maximize ? -x : x) + (!o.decoupled && wd !== 0 ? wd * p[i] : 0));
      g.forEach((gi, i) => {
        m![i] = b1 * m![i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        vmax[i] = Math.max(vmax[i], v[i]);
        const second = o.amsgrad ? vmax[i] : v[i];
        const denom = Math.sqrt(second) / Math.sqrt(1 - b2 ** t) + eps;
        p[i] -= (o.lr / (1 - b1 ** t)) * (m![i] / denom);
      });
    },
  };
}

export function rmspropRef(opts: RmsRef): RefOptimizer<RmsRef> {
  let sq: number[] | null = null, ga: number[] = [], buf: number[] = [];
  return {
    opts,
    step(p, g0) {
      const o = this.opts;
      const a = o.alpha ?? 0.99, eps = o.eps ?? 1e-8, wd = o.weightDecay ?? 0, mom = o.momentum ?? 0;
      if (!sq) { sq = p.map(() => 0); ga = p.map(() => 0); buf = p.map(() => 0); }
      const g = g0.map((x, i) => (o.maximize ? -x : x) + (wd !== 0 ? wd * p[i] : 0));
      g.forEach((gi, i) => {
        sq![i] = a * sq![i] + (1 - a) * gi * gi;
        let avg: number;
        if (o.centered) { ga[i] = a * ga[i] + (1 - a) * gi; avg = Math.sqrt(sq![i] - ga[i] * ga[i]) + eps; } else avg = Math.sqrt(sq![i]) + eps;
        if (mom > 0) { buf[i] = mom * buf[i] + gi / avg; p[i] -= o.lr * buf[i]; } else p[i] -= (o.lr * gi) / avg;
      });
    },
  };
}

export function adagradRef(opts: AdagradRef): RefOptimizer<AdagradRef> {
  let sum: number[] | null = null;
  let t = 0;
  return {
    opts,
    step(p, g0) {
      const o = this.opts;
      const eps = o.eps ?? 1e-10, wd = o.weightDecay ?? 0;
      if (!sum) sum = p.map(() => o.initialAccumulatorValue ?? 0);
      t++;
      const clr = o.lr / (1 + (t - 1) * (o.lrDecay ?? 0));
      const g = g0.map((x, i) => (o.maximize ? -x : x) + (wd !== 0 ? wd * p[i] : 0));
      g.forEach((gi, i) => { sum![i] += gi * gi; p[i] -= (clr * gi) / (Math.sqrt(sum![i]) + eps); });
    },
  };
}

// ----- learning-rate schedules in closed form (epoch e, base rate b) ------------------------------

export const stepLR = (b: number, e: number, stepSize: number, gamma: number) => b * gamma ** Math.floor(e / stepSize);
export const multiStepLR = (b: number, e: number, milestones: number[], gamma: number) => b * gamma ** milestones.filter((m) => m <= e).length;
export const exponentialLR = (b: number, e: number, gamma: number) => b * gamma ** e;
export const cosineLR = (b: number, e: number, tMax: number, etaMin: number) => etaMin + ((b - etaMin) * (1 + Math.cos((Math.PI * e) / tMax))) / 2;
export const linearLR = (b: number, e: number, s: number, f: number, total: number) => b * (s + ((f - s) * Math.min(e, total)) / total);

/** torch's OneCycleLR at step t, two or three phases, from its documented definition. */
export function oneCycleLR(maxLr: number, t: number, total: number, o: { pct?: number; div?: number; finalDiv?: number; anneal?: 'cos' | 'linear'; threePhase?: boolean } = {}): number {
  const pct = o.pct ?? 0.3, init = maxLr / (o.div ?? 25), min = init / (o.finalDiv ?? 1e4);
  const f = (a: number, b: number, x: number) => ((o.anneal ?? 'cos') === 'cos' ? b + ((a - b) / 2) * (1 + Math.cos(Math.PI * x)) : a + (b - a) * x);
  const up = pct * total - 1;
  if (!o.threePhase) return t <= up ? f(init, maxLr, t / up) : f(maxLr, min, (t - up) / (total - 1 - up));
  const down = 2 * pct * total - 2;
  if (t <= up) return f(init, maxLr, t / up);
  if (t <= down) return f(maxLr, init, (t - up) / (down - up));
  return f(init, min, (t - down) / (total - 1 - down));
}
