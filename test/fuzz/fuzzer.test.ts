// The differential fuzzer's own tests: programs are reproducible from (seed, index); eager checked
// against itself through the whole harness finds nothing (no false findings from tolerances, dropout,
// reads or layouts); compilers broken on purpose are caught, and a failure shrinks to a small program.
import { describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { emitWorld } from './emit.js';
import { generate } from './generate.js';
import { runProgram, type RunOptions } from './runner.js';
import { shrink } from './shrink.js';

type Fn = (...a: unknown[]) => unknown;

/** Rebuilds every tensor in a result through `f` (plain arrays and objects are walked). */
function mapTensors(v: unknown, f: (t: k.Tensor) => k.Tensor): unknown {
  if (v instanceof k.Tensor) return f(v);
  if (Array.isArray(v)) return v.map((x) => mapTensors(x, f));
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.fromEntries(Object.entries(v).map(([key, x]) => [key, mapTensors(x, f)]));
  return v;
}

/** A compiler that calls the function as it is, wrapped by `wrap` (the module form is left alone). */
const broken = (wrap: (fn: Fn) => Fn): RunOptions['compileWith'] => (target) => (typeof target === 'function' ? wrap(target as Fn) : target);

/** Runs programs from index 0 until one is reported; returns how many ran (or Infinity). */
async function programsUntilCaught(o: RunOptions, limit: number): Promise<number> {
  for (let i = 0; i < limit; i++) {
    const findings = await runProgram(generate(11, i, { small: true }), o);
    if (findings.length) return i + 1;
  }
  return Infinity;
}

describe('differential fuzzer', () => {
  it('generates the same program for the same seed and index, and different ones otherwise', () => {
    const a = emitWorld(generate(5, 3), { ts: true, asyncReads: false });
    const b = emitWorld(generate(5, 3), { ts: true, asyncReads: false });
    const c = emitWorld(generate(5, 4), { ts: true, asyncReads: false });
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });

  for (const [backend, n] of [['cpu', 30], ['wasm', 12]] as const) {
    it(`finds nothing when the "compiled" function is the eager one (${backend}, ${n} programs)`, async () => {
      await k.ready();
      const identity: RunOptions['compileWith'] = (target) => target;
      const problems: string[] = [];
      for (let i = 0; i < n; i++) {
        const p = generate(3, i, { small: true });
        for (const f of await runProgram(p, { backend, crossCheck: false, compileWith: identity })) problems.push(`#${i} ${f.kind} ${f.path}: ${f.detail}`);
      }
      expect(problems).toEqual([]);
    }, 300_000);
  }

  it('catches a compiler that is one ulp off on an exactly computed value', async () => {
    const ulp = broken((fn) => (...a) => mapTensors(fn(...a), (t) => {
      if (t.dtype !== 'float32' || t.size === 0) return t;
      const d = Float32Array.from(t.data());
      const u = new Uint32Array(d.buffer);
      u[0] += d[0] === 0 ? 0 : 1;
      if (d[0] === 0) d[0] = 1e-45;
      return k.tensor(d, { backend: t.backend, shape: t.shape });
    }));
    expect(await programsUntilCaught({ backend: 'cpu', crossCheck: false, compileWith: ulp }, 20)).toBeLessThanOrEqual(20);
  });

  it('catches a compiler that replays the first call\'s results', async () => {
    const stale = broken((fn) => { let first: unknown; let called = false; return (...a) => { if (!called) { called = true; first = fn(...a); } return first; }; });
    expect(await programsUntilCaught({ backend: 'cpu', crossCheck: false, compileWith: stale }, 20)).toBeLessThanOrEqual(20);
  });

  it('catches a compiler that loses in-place writes into its arguments', async () => {
    const copies = broken((fn) => (...a) => fn(...a.map((x) => (x instanceof k.Tensor && !x.requiresGrad ? x.clone() : x))));
    expect(await programsUntilCaught({ backend: 'cpu', crossCheck: false, compileWith: copies }, 60)).toBeLessThanOrEqual(60);
  });

  it('catches a compiler that swallows errors', async () => {
    const quiet = broken((fn) => (...a) => { try { return fn(...a); } catch { return undefined; } });
    expect(await programsUntilCaught({ backend: 'cpu', crossCheck: false, compileWith: quiet }, 150)).toBeLessThanOrEqual(150);
  }, 120_000);

  // CNN programs (a conv block whose batch norm trains, then evaluates, then trains again), compiled as a module.
  type Mod = { train: (on?: boolean) => unknown; forward: (...a: unknown[]) => unknown; buffers: () => k.Tensor[] };
  const moduleOnly = (wrap: (m: Mod) => void): RunOptions['compileWith'] => (target) => { if (target instanceof k.nn.Module) wrap(target as unknown as Mod); return target; };

  it('catches a compiled model that ignores eval() (batch norm keeps using batch statistics)', async () => {
    const noEval = moduleOnly((m) => { m.train = function () { return this; }; });
    expect(await programsUntilCaught({ backend: 'cpu', crossCheck: false, compileWith: noEval }, 150)).toBeLessThanOrEqual(150);
  }, 120_000);

  it('catches a compiled model that does not update batch norm\'s running statistics', async () => {
    const frozen = moduleOnly((m) => {
      const forward = m.forward.bind(m);
      m.forward = (...a) => {
        const saved = m.buffers().map((b) => b.clone());
        const y = forward(...a);
        k.noGrad(() => m.buffers().forEach((b, i) => b.copy_(saved[i])));
        return y;
      };
    });
    expect(await programsUntilCaught({ backend: 'cpu', crossCheck: false, compileWith: frozen }, 150)).toBeLessThanOrEqual(150);
  }, 120_000);

  it('shrinks a failure to a small program that still fails the same way', async () => {
    const stale = broken((fn) => { let first: unknown; let called = false; return (...a) => { if (!called) { called = true; first = fn(...a); } return first; }; });
    const o: RunOptions = { backend: 'cpu', crossCheck: false, compileWith: stale };
    let i = 0, findings = await runProgram(generate(11, 0, { small: true }), o);
    while (!findings.length && i < 20) findings = await runProgram(generate(11, ++i, { small: true }), o);
    const p = generate(11, i, { small: true });
    const r = await shrink(p, findings[0], o, 20_000);
    expect(r.program.body.length).toBeLessThanOrEqual(Math.min(2, p.body.length));
    expect((await runProgram(r.program, o)).length).toBeGreaterThan(0);
  }, 60_000);
});
