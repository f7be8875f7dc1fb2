// `kiln dump`: runs example scripts through the real CLI (bin/kiln.mjs -> tsx -> bin/dump.ts) and
// checks what lands on disk: graph text snapshots, kernel counts after fusion, break locations,
// KILN_LOGS handling, WGSL when webgpu starts, and graph.html opened in headless chromium.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DumpIndex } from '../../bin/dump-writer.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-dump-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Ran { code: number; stdout: string; stderr: string }

/** Runs `node bin/kiln.mjs ARGS` in the repo root. */
async function kiln(args: readonly string[], env: Record<string, string> = {}): Promise<Ran> {
  try {
    const r = await run(process.execPath, [path.join(root, 'bin/kiln.mjs'), ...args], { cwd: root, env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

async function dump(example: string, env: Record<string, string> = {}): Promise<{ ran: Ran; dir: string; index: DumpIndex }> {
  const dir = path.join(tmp, `${path.basename(example, '.ts')}${env.KILN_BACKEND ? `-${env.KILN_BACKEND}` : ''}`);
  const ran = await kiln(['dump', example, '--out', dir], env);
  expect(ran.code, `kiln dump ${example} failed:\n${ran.stderr}\n${ran.stdout}`).toBe(0);
  return { ran, dir, index: JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as DumpIndex };
}

const read = (dir: string, rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');

let gelu: Awaited<ReturnType<typeof dump>>;
let breaks: Awaited<ReturnType<typeof dump>>;
let mlp: Awaited<ReturnType<typeof dump>>;
beforeAll(async () => {
  gelu = await dump('examples/dump_gelu.ts');
  breaks = await dump('examples/dump_breaks.ts');
  mlp = await dump('examples/dump_mlp.ts');
}, 120_000);

describe('kiln dump examples/dump_gelu.ts', () => {
  it('prints a summary naming the folder and writes one folder per function and signature', () => {
    expect(gelu.ran.stdout).toMatch(/1 compiled function\(s\), 1 signature\(s\), 1 graph\(s\), 0 break\(s\), 1 kernel\(s\), compile [\d.]+ ms/);
    expect(gelu.ran.stdout).toContain(path.join(gelu.dir, '01-gelu/sig1'));
    const sig = gelu.index.functions[0].signatures[0];
    expect(sig.dir).toBe('01-gelu/sig1');
    for (const f of ['summary.txt', 'guards.txt', 'breaks.txt', 'recompiles.txt', 'explain.json', 'explain.txt', 'graph.html',
      'graph1/traced.txt', 'graph1/traced-table.txt', 'graph1/optimized.txt', 'graph1/optimized-table.txt', 'graph1/fusion.txt']) {
      expect(fs.existsSync(path.join(gelu.dir, sig.dir, f)), f).toBe(true);
    }
  });

  it('fuses GELU into one kernel and writes its IR and generated JS', () => {
    const g = gelu.index.functions[0].signatures[0].graphs[0];
    expect(g).toMatchObject({ tracedOps: 8, kernels: 1, kernelKinds: ['elementwise'], backend: 'cpu' });
    const d = path.join(gelu.dir, g.dir);
    expect(read(d, 'traced.txt')).toMatchSnapshot('gelu traced graph');
    expect(read(d, 'traced-table.txt')).toMatchSnapshot('gelu traced table');
    expect(read(d, 'fusion.txt')).toMatchSnapshot('gelu fusion groups');
    expect(read(d, 'kernels/01-elementwise.ir.txt')).toMatchSnapshot('gelu kernel IR');
    expect(read(d, 'kernels/01-elementwise.js')).toMatch(/Math\.exp/);
  });

  it('writes guards and explain() as JSON', () => {
    const sdir = path.join(gelu.dir, '01-gelu/sig1');
    expect(read(sdir, 'guards.txt')).toContain('shapes: [256,512]');
    const ex = JSON.parse(read(sdir, 'explain.json'));
    expect(ex).toMatchObject({ graphCount: 1, mode: 'replay', breaks: [] });
    expect(ex.graphs[0].kernels).toHaveLength(1);
    expect(ex.text).toMatch(/explain\(gelu\): 1 graph\(s\), 0 break\(s\)/);
  });
});

describe('kiln dump examples/dump_breaks.ts', () => {
  it('records each break with its file:line and the source text, per signature', () => {
    const f = breaks.index.functions[0];
    expect(f.name).toBe('normalizeIfLarge');
    expect(f.signatures).toHaveLength(2);
    for (const s of f.signatures) {
      expect(s.mode).toBe('segmented');
      expect(s.breaks).toEqual([{ reason: 'item()', loc: 'examples/dump_breaks.ts:8', line: 'const total = h.abs().sum().item() as number;' }]);
      expect(s.graphs).toHaveLength(2);
    }
    expect(read(path.join(breaks.dir, f.signatures[0].dir), 'breaks.txt')).toMatchSnapshot('breaks.txt');
    expect(breaks.ran.stdout).toContain('break: item() at examples/dump_breaks.ts:8');
  });

  it('records the recompile reason (a new shape with dynamic shapes off)', () => {
    const f = breaks.index.functions[0];
    expect(f.recompileReasons).toEqual(['guard failed: tensor argument 0 dim 0: expected size 4, got 2 (shape [4,8] vs [2,3])']);
    expect(read(path.join(breaks.dir, f.signatures[1].dir), 'recompiles.txt')).toContain('expected size 4, got 2');
  });

  it('prints each segment as the graph it ran', () => {
    const s = breaks.index.functions[0].signatures[0];
    expect(read(path.join(breaks.dir, s.graphs[0].dir), 'traced.txt')).toMatchSnapshot('segment 1 before the break');
    expect(s.graphs.map((g) => g.kernels)).toEqual([1, 1]);
  });
});

describe('kiln dump examples/dump_mlp.ts', () => {
  it('counts kernels after fusion: the forward is two matmuls with epilogues and a softmax', () => {
    const predict = mlp.index.functions.find((f) => f.name === 'predict')!;
    expect(predict.signatures[0].graphs[0].kernelKinds).toEqual(['matmul', 'matmul', 'reduce']);
    const train = mlp.index.functions.find((f) => f.name === 'trainStep')!;
    const g = train.signatures[0].graphs[0];
    expect(train.signatures[0].mode).toBe('replay');
    expect(train.cache.traces).toBe(1);
    expect(train.cache.hits).toBe(19);
    expect(g.kernels).toBeGreaterThan(3);
    expect(g.kernels).toBeLessThan(g.tracedOps / 3);
    // The default backend is wasm: one WebAssembly text file per kernel.
    expect(g.kernelFiles.filter((f) => f.endsWith('.wat'))).toHaveLength(g.kernels);
  });
});

describe('KILN_LOGS and the CLI', () => {
  it('KILN_LOGS prints compile stages while the script runs', async () => {
    const r = await kiln(['dump', 'examples/dump_gelu.ts', '--out', path.join(tmp, 'logs')], { KILN_LOGS: 'graph,fusion' });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\[kiln\] traced gelu:\ngraph gelu\(/);
    expect(r.stderr).toMatch(/\[kiln\] gelu kernel 1 \(elementwise\): fuses/);
  });

  it('an unknown KILN_LOGS name is an error listing the valid names', async () => {
    const r = await kiln(['dump', 'examples/dump_gelu.ts', '--out', path.join(tmp, 'bad')], { KILN_LOGS: 'graph,bogus' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('KILN_LOGS: unknown log name(s) bogus; valid names: graph, breaks, recompiles, guards, fusion, kernels, passes, all');
    expect(fs.existsSync(path.join(tmp, 'bad'))).toBe(false);
  });

  it('has --help, rejects unknown commands and missing scripts', async () => {
    const h = await kiln(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/kiln dump SCRIPT \[--out DIR\]/);
    expect(h.stdout).toMatch(/kiln bench/);
    const d = await kiln(['dump', '--help']);
    expect(d.stdout).toMatch(/usage: kiln dump SCRIPT \[--out DIR\]/);
    expect((await kiln(['frobnicate'])).code).toBe(2);
    const missing = await kiln(['dump', 'examples/nope.ts']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such script: examples/nope.ts');
  });
});

describe('kiln dump on webgpu', () => {
  it('writes WGSL for the fused kernel (when an adapter starts)', async (ctx) => {
    const dir = path.join(tmp, 'gelu-webgpu');
    const r = await kiln(['dump', 'examples/dump_gelu.ts', '--out', dir], { KILN_BACKEND: 'webgpu' });
    if (r.code !== 0 && /WebGpuUnavailable|webgpu/i.test(r.stderr) && process.env.KILN_REQUIRE_WEBGPU !== '1') {
      console.warn(`[dump.test] SKIPPING the webgpu dump: ${r.stderr.split('\n').find((l) => /webgpu/i.test(l))}`);
      ctx.skip();
    }
    expect(r.code, r.stderr).toBe(0);
    const g = (JSON.parse(read(dir, 'index.json')) as DumpIndex).functions[0].signatures[0].graphs[0];
    expect(g).toMatchObject({ kernels: 1, backend: 'webgpu' });
    expect(read(path.join(dir, g.dir), 'kernels/01-elementwise.wgsl')).toMatch(/@compute @workgroup_size\(\d+\)/);
  }, 60_000);
});

describe('graph.html in headless chromium', () => {
  it('draws one SVG element per node with fused groups coloured, fetching nothing', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      const cases = [
        { ix: gelu, fn: 0, shot: 'dump-gelu-graph.png' },
        { ix: breaks, fn: 0, shot: 'dump-breaks-graph.png' },
        { ix: mlp, fn: 0, shot: 'dump-mlp-train-graph.png' },
      ];
      for (const c of cases) {
        const sig = c.ix.index.functions[c.fn].signatures[0];
        const file = path.join(c.ix.dir, sig.dir, 'graph.html');
        await page.goto(`file://${file}`);
        const nodes = sig.graphs.reduce((s, g) => s + g.optimizedNodes, 0);
        expect(await page.locator('svg.graph g.node').count(), file).toBe(nodes);
        expect(await page.locator('svg.graph').count()).toBe(sig.graphs.length);
        // Every kernel tags (and colours) the nodes it computes; a node computed by two kernels has both.
        const svg0 = page.locator('svg.graph').first();
        const tagged = await svg0.locator('g.node[data-kernel]').evaluateAll((gs) => [...new Set(gs.flatMap((g) => g.getAttribute('data-kernel')!.split(' ')))]);
        expect(tagged.length).toBe(sig.graphs[0].kernels);
        const fills = await svg0.locator('g.node[data-kernel] rect').evaluateAll((rs) => rs.map((r) => r.getAttribute('fill')));
        expect(fills.every((f) => f && f !== '#ffffff' && f !== '#eeeeee')).toBe(true);
        await expect(page.locator('svg.graph g.node').first().locator('text').first().textContent()).resolves.toMatch(/^%\d+ /);
        fs.mkdirSync(path.join(root, 'test/artifacts'), { recursive: true });
        await page.screenshot({ path: path.join(root, 'test/artifacts', c.shot), fullPage: true });
      }
      const gnode = page.locator('svg.graph g.node');
      expect(await gnode.count()).toBeGreaterThan(0);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
