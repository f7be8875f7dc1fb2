// The bench harness in CI: `--quick` on every backend that starts (cpu always), in-process through
// the same entry point as `npm run bench`; the JSON must hold every workload with sane figures.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import * as kiln from '../../src/index.js';
import { main, parseBenchArgs } from '../../bench/run.js';
import type { BenchReport } from '../../bench/harness.js';
import { WORKLOADS } from '../../bench/workloads.js';
import { observeCall } from '../../bench/cost.js';
import { rooflineFraction, type Roofline } from '../../bench/roofline.js';
import { quantile } from '../../bench/measure.js';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-'));
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

describe('npm run bench -- --quick', () => {
  it('measures every workload on every backend that starts and writes JSON and Markdown', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let code: number, printed: string;
    try {
      code = await main(['--quick', '--out', out]);
    } finally {
      printed = log.mock.calls.map((c) => String(c[0])).join('\n');
      log.mockRestore(); err.mockRestore();
    }
    const report = JSON.parse(fs.readFileSync(path.join(out, 'latest.json'), 'utf8')) as BenchReport;
    expect(code, printed).toBe(0);
    expect(report.kind).toBe('kiln-bench');
    expect(report.quick).toBe(true);
    const cpu = report.backends.find((b) => b.name === 'cpu')!;
    expect(cpu.available).toBe(true);
    for (const b of report.backends) {
      if (!b.available) { console.warn(`[bench.test] backend ${b.name} did not start: ${b.reason}`); continue; }
      for (const w of WORKLOADS) {
        const r = report.results.find((x) => x.backend === b.name && x.workload === w.name);
        expect(r, `${b.name}/${w.name} missing`).toBeDefined();
        const where = `${b.name}/${w.name}`;
        expect(r!.error, where).toBeUndefined();
        for (const t of [r!.eager!, r!.compiled!]) {
          expect(t.medianMs, where).toBeGreaterThan(0);
          expect(t.p90Ms, where).toBeGreaterThanOrEqual(t.medianMs);
          expect(t.samples, where).toBeGreaterThanOrEqual(3);
        }
        expect(r!.speedup, where).toBeCloseTo(r!.eager!.medianMs / r!.compiled!.medianMs, 6);
        // The conv blocks name a floor (their convolutions alone), timed in the same rounds.
        if (['conv-bn-relu', 'resnet-block'].includes(w.name)) {
          expect(r!.floor!.samples, where).toBeGreaterThanOrEqual(3);
          expect(r!.ceiling, where).toBeCloseTo(r!.eager!.medianMs / r!.floor!.medianMs, 6);
        } else expect([r!.floor, r!.ceiling], where).toEqual([null, null]);
        expect(r!.cost!.kernels, where).toBeGreaterThanOrEqual(1);
        expect(r!.cost!.flops, where).toBeGreaterThan(0);
        expect(r!.cost!.bytes, where).toBeGreaterThan(0);
        expect(r!.gbs! * r!.compiled!.medianMs / 1000 * 1e9, where).toBeCloseTo(r!.cost!.bytes, -1);
        expect(r!.gflops, where).toBeGreaterThan(0);
        expect(r!.roofline!.fraction, where).toBeGreaterThan(0);
        expect(r!.compile!.firstCallMs, where).toBeGreaterThan(0);
        expect(r!.compile!.compileMs, where).toBeGreaterThanOrEqual(0);
        expect(r!.traces, `${where} retraced`).toBe(1);
        expect(r!.mode, where).toBe('replay');
        expect(r!.maxAbsDiff!, `${where}: compiled differs from eager`).toBeLessThan(1e-3);
      }
      const hit = report.cacheHit.find((c) => c.backend === b.name);
      expect(hit, `${b.name} cache-hit`).toBeDefined();
      expect(hit!.eagerUs).toBeGreaterThan(0);
      expect(hit!.compiledUs).toBeGreaterThan(0);
      expect(Number.isFinite(hit!.overheadUs)).toBe(true);
    }
    expect(report.roofline.copyGBs).toBeGreaterThan(0);
    expect(report.roofline.bandwidthGBs).toBeGreaterThan(0);
    // The gelu kernels fuse to one kernel on every backend.
    for (const r of report.results.filter((x) => x.workload.startsWith('gelu'))) expect(r.cost!.kernels).toBe(1);
    const md = fs.readFileSync(path.join(out, 'latest.md'), 'utf8');
    for (const w of WORKLOADS) expect(md).toContain(w.name);
    expect(printed).toMatch(/cache-hit overhead/);
    expect(fs.readdirSync(out).filter((f) => /^bench-.*-quick\.(json|md)$/.test(f))).toHaveLength(2);
  }, 420_000); // the CNN workloads' first compiled calls build tens of kernels, and SwiftShader builds each shader slowly

  it('parses its flags and rejects unknown ones', () => {
    const a = parseBenchArgs(['--quick', '--filter', 'gelu', '--backend', 'cpu,webgpu', '--out=/tmp/x']);
    expect(a).toMatchObject({ quick: true, filter: 'gelu', backends: ['cpu', 'webgpu'], out: '/tmp/x' });
    expect(() => parseBenchArgs(['--backend', 'tpu'])).toThrow(/unknown backend 'tpu'; valid: cpu, wasm, webgpu/);
    expect(() => parseBenchArgs(['--fast'])).toThrow(/unknown option --fast/);
    expect(() => parseBenchArgs(['--filter'])).toThrow(/--filter needs a value/);
  });
});

describe('bench figures', () => {
  it('counts one fused GELU kernel: 8 flops and 8 bytes per element', async () => {
    const n = 1000;
    const x = kiln.randn([n]);
    const f = kiln.compile((v: kiln.Tensor) => v.gelu('tanh'));
    f(x);
    const { cost } = await observeCall(() => f(x));
    expect(cost).toMatchObject({ programs: 1, kernels: 1, flops: 8 * n, bytes: 8 * n, interpreted: 0 });
  });

  it('counts a broadcast bias once, not once per row', async () => {
    const x = kiln.randn([64, 32]), W = kiln.randn([32, 16]), b = kiln.randn([16]);
    const f = kiln.compile((v: kiln.Tensor) => v.matmul(W).add(b));
    f(x);
    const { cost } = await observeCall(() => f(x));
    expect(cost.kernels).toBe(1);
    expect(cost.bytes).toBe(4 * (64 * 32 + 32 * 16 + 16 + 64 * 16));
    expect(cost.flops).toBe(2 * 64 * 32 * 16 + 64 * 16);
  });

  it('takes the lower roof: bandwidth for low intensity, peak for high', () => {
    const roof: Roofline = { streamGBs: 10, copyGBs: 8, bandwidthGBs: 10, bandwidthSource: 'test', peakGflops: 100, geluElemsPerSec: 1e9, notes: [] };
    // 1 flop per 4 bytes at 10 GB/s: attainable 2.5 GFLOP/s; 1.25 achieved is half.
    expect(rooflineFraction(roof, 'stream', { seconds: 1, flops: 1.25e9, bytes: 5e9 })).toEqual({ fraction: 0.5, bound: 'bandwidth' });
    expect(rooflineFraction(roof, 'compute', { seconds: 1, flops: 50e9, bytes: 1e6 })).toEqual({ fraction: 0.5, bound: 'compute' });
    expect(rooflineFraction(roof, 'gelu', { seconds: 1, flops: 9e8, bytes: 8e8, elements: 2.5e8 })).toEqual({ fraction: 0.25, bound: 'hand GELU' });
    expect(rooflineFraction({ ...roof, peakGflops: null }, 'compute', { seconds: 1, flops: 50e9, bytes: 1e9 })!.bound).toBe('bandwidth');
    // Kernels that use FMA are held to the FMA peak when one was measured.
    expect(rooflineFraction({ ...roof, fmaPeakGflops: 200 }, 'compute', { seconds: 1, flops: 50e9, bytes: 1e6 })).toEqual({ fraction: 0.25, bound: 'compute' });
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9)).toBe(10);
  });
});
