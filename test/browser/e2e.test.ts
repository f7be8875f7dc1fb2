// End-to-end test of the browser demo (examples/browser): builds the bundle with esbuild, checks that
// it is browser-clean, serves it on localhost, opens it in headless Chromium with WebGPU on
// SwiftShader (DESIGN.md "Running WebGPU without a GPU"), waits for the page to finish and checks
// its JSON summary: compiled agrees with eager on every backend that is available, and webgpu ran.
//
// Without a usable Chromium + WebGPU adapter the browser part is skipped BY NAME with the reason
// (describe.skip + console.warn); it never passes silently. KILN_CHROMIUM=/path/to/chrome picks the binary.
// The screenshot goes to test/artifacts/browser.png.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { buildBrowser, BROWSER_ROOT, type BrowserBuild } from '../../examples/browser/build.js';
import { startServer, type StaticServer } from '../../examples/browser/serve.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SCREENSHOT = join(repo, 'test/artifacts/browser.png');
/** max |eager - compiled| and max |backend - cpu| allowed on softmax probabilities. */
const TOL = 1e-4;

const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--no-sandbox',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
];
const CHROMIUM_CANDIDATES = process.env.KILN_CHROMIUM
  ? [process.env.KILN_CHROMIUM]
  : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

// ------------------------------------------------------------------------------------------------
// The bundle, built once for both suites.

let buildPromise: Promise<BrowserBuild> | null = null;
const getBuild = () => (buildPromise ??= buildBrowser({ quiet: true }));

describe('browser bundle (esbuild)', () => {
  let b: BrowserBuild;
  beforeAll(async () => { b = await getBuild(); }, 120_000);

  it('builds examples/browser/dist/main.js', () => {
    expect(existsSync(b.entry)).toBe(true);
    expect(existsSync(join(BROWSER_ROOT, 'index.html'))).toBe(true);
  });

  it('is browser-clean: no Node-only module is bundled or statically imported', () => {
    const outputs = Object.entries(b.metafile.outputs);
    for (const [file, out] of outputs) {
      const inputs = Object.keys(out.inputs);
      expect(inputs.filter((i) => /node_modules[\\/]webgpu[\\/]/.test(i)), `${file} bundles the webgpu package`).toEqual([]);
      for (const imp of out.imports.filter((i) => i.external)) {
        // Only dynamic imports that run under Node alone may stay: binaryen's `node:module`, and the
        // wasm backend's `node:v8` (tier-up tuning, behind a Node check).
        expect(['node:module (dynamic-import)', 'node:v8 (dynamic-import)'], `${file} keeps an external import`).toContain(`${imp.path} (${imp.kind})`);
      }
    }
  });

  it('keeps binaryen out of the entry chunk (lazy, split chunk)', () => {
    const outs = b.metafile.outputs;
    const entryKey = Object.keys(outs).find((k) => k.endsWith('dist/main.js'))!;
    expect(entryKey).toBeTruthy();
    // Everything main.js loads statically, transitively.
    const seen = new Set<string>();
    const walk = (k: string): void => {
      if (seen.has(k)) return;
      seen.add(k);
      for (const i of outs[k]?.imports ?? []) if (!i.external && i.kind === 'import-statement') walk(i.path);
    };
    walk(entryKey);
    for (const k of seen) {
      expect(Object.keys(outs[k].inputs).filter((i) => i.includes('node_modules/binaryen')), `${k} loads binaryen eagerly`).toEqual([]);
    }
    const binaryenChunk = Object.keys(outs).find((k) => Object.keys(outs[k].inputs).some((i) => i.includes('node_modules/binaryen')));
    if (b.wasm.bundled) expect(binaryenChunk, 'the wasm backend is bundled but binaryen has no chunk').toBeTruthy();
  });
});

// ------------------------------------------------------------------------------------------------
// Can this machine run the page at all? Decided at collection time so a skip shows up by name.

type Probe = { ok: true; browser: Browser; server: StaticServer; adapter: string } | { ok: false; reason: string };

async function probe(): Promise<Probe> {
  const exe = CHROMIUM_CANDIDATES.find((p) => existsSync(p));
  if (!exe) return { ok: false, reason: `no chromium binary (tried ${CHROMIUM_CANDIDATES.join(', ')}); apt-get install -y chromium` };
  let browser: Browser | null = null;
  let server: StaticServer | null = null;
  try {
    browser = await chromium.launch({ executablePath: exe, headless: true, args: CHROMIUM_FLAGS, timeout: 60_000 });
    server = await startServer(BROWSER_ROOT);
    const page = await browser.newPage();
    // Any page of the localhost origin is a secure context (navigator.gpu needs one); a 404 will do.
    await page.goto(`${server.url}__probe__`);
    const adapter = await page.evaluate(async () => {
      const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
      if (!gpu) return { error: 'navigator.gpu is missing (WebGPU disabled in this chromium)' };
      const a = await gpu.requestAdapter();
      if (!a) return { error: 'navigator.gpu.requestAdapter() returned null (no SwiftShader adapter)' };
      try {
        (await a.requestDevice()).destroy();
      } catch (e) {
        return { error: `requestDevice() failed: ${(e as Error).message}` };
      }
      return { info: [a.info?.vendor, a.info?.architecture, a.info?.description].filter(Boolean).join(' ') || 'adapter (no info)' };
    });
    await page.close();
    if ('error' in adapter) throw new Error(adapter.error);
    return { ok: true, browser, server, adapter: adapter.info ?? '' };
  } catch (e) {
    await browser?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
    return { ok: false, reason: `${exe}: ${(e as Error).message.split('\n')[0]}` };
  }
}

const env = await probe();
if (!env.ok) console.warn(`[test/browser/e2e] SKIPPED browser demo e2e: ${env.reason}`);
const suite = env.ok ? describe : describe.skip;

interface BackendSummary {
  status: 'ok' | 'unavailable' | 'error';
  reason?: string;
  via?: string;
  device?: string;
  maxAbsDiff?: number;
  maxAbsDiffVsCpu?: number | null;
  rowSum?: number;
  kernels?: number;
  sourceLanguage?: string;
  sourceChars?: (number | null)[];
  eagerMs?: number;
  compiledMs?: number;
  cache?: { traces: number; hits: number };
}
interface Summary {
  done: boolean;
  backends: Record<string, BackendSummary>;
  explain?: { backend: string; graphCount: number; kernels: number; breaks: number; locations: string[] };
}

suite(`browser demo in headless chromium + WebGPU/SwiftShader${env.ok ? '' : ` — SKIPPED: ${env.reason}`}`, () => {
  let summary: Summary;
  let explainText = '';
  let wgslBlocks: string[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    if (!env.ok) return;
    await getBuild();
    const page = await env.browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') logs.push(`console.${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(env.server.url);
    let done: string | undefined;
    try {
      await page.waitForFunction(() => document.body.dataset.done, null, { timeout: 240_000 });
      done = await page.evaluate(() => document.body.dataset.done);
    } finally {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch(() => undefined);
    }
    if (done !== 'true') {
      const error = await page.evaluate(() => document.body.dataset.error);
      throw new Error(`the page finished with data-done=${done}: ${error}\n${logs.join('\n')}`);
    }
    summary = JSON.parse((await page.textContent('#result-json')) ?? '{}') as Summary;
    explainText = (await page.textContent('#explain')) ?? '';
    wgslBlocks = await page.$$eval('pre.src[data-lang="WGSL"]', (els) => els.map((e) => e.textContent ?? ''));
    for (const [name, r] of Object.entries(summary.backends)) {
      console.log(`[browser] ${name}: ${r.status}${r.reason ? ` (${r.reason})` : ''}${r.status === 'ok'
        ? ` max|eager-compiled|=${r.maxAbsDiff} max|vs cpu|=${r.maxAbsDiffVsCpu} eager ${r.eagerMs?.toFixed(2)} ms, compiled ${r.compiledMs?.toFixed(2)} ms, ${r.kernels} kernels via ${r.via}` : ''}`);
    }
    await page.close();
  }, 300_000);

  afterAll(async () => {
    if (!env.ok) return;
    await env.browser.close().catch(() => undefined);
    await env.server.close().catch(() => undefined);
  });

  it('finishes with a summary for webgpu, wasm and cpu', () => {
    expect(summary.done).toBe(true);
    expect(Object.keys(summary.backends).sort()).toEqual(['cpu', 'webgpu', 'wasm'].sort());
  });

  it('webgpu actually ran (not skipped) on the browser adapter', () => {
    const r = summary.backends.webgpu;
    expect(r.status, `webgpu: ${r.reason}\n${logs.join('\n')}`).toBe('ok');
    expect(r.via).toBe("initBackend('webgpu')");
    expect(r.kernels).toBeGreaterThan(0);
  });

  it('compiled agrees with eager (and with cpu) on every available backend', () => {
    const available = Object.entries(summary.backends).filter(([, r]) => r.status !== 'unavailable');
    expect(available.map(([n]) => n)).toEqual(expect.arrayContaining(['cpu', 'webgpu']));
    for (const [name, r] of available) {
      expect(r.status, `${name} failed: ${r.reason}`).toBe('ok');
      expect(r.maxAbsDiff!, `${name}: max |eager - compiled|`).toBeLessThan(TOL);
      if (name !== 'cpu') expect(r.maxAbsDiffVsCpu!, `${name}: max |compiled - cpu|`).toBeLessThan(TOL);
      expect(Math.abs(r.rowSum! - 1), `${name}: softmax row sum`).toBeLessThan(1e-4);
      // The compiled function traced once and replayed afterwards.
      expect(r.cache!.traces, `${name}: traces`).toBe(1);
      expect(r.cache!.hits, `${name}: cache hits`).toBeGreaterThan(0);
    }
  });

  it('wasm runs when the build bundled backends/wasm, else reports why it is unavailable', async () => {
    const r = summary.backends.wasm;
    const b = await getBuild();
    if (r.status === 'unavailable') {
      expect(r.reason, 'an unavailable wasm backend must say why').toBeTruthy();
      console.warn(`[test/browser/e2e] wasm: unavailable (${r.reason})`);
      expect(b.wasm.bundled, `backends/wasm/index.ts was bundled but did not start in the browser: ${r.reason}`).toBe(false);
    } else {
      expect(r.status, `wasm failed: ${r.reason}`).toBe('ok');
      // Chromium has relaxed SIMD by default (since 114), so the page's kernels take the FMA path.
      expect(r.device).toMatch(/relaxed-SIMD FMA/);
    }
  });

  it('shows the explain() report and the generated WGSL', () => {
    expect(summary.explain?.backend).toBe('webgpu');
    expect(summary.explain?.graphCount).toBe(1);
    expect(summary.explain?.breaks).toBe(0);
    expect(summary.explain?.kernels).toBeGreaterThan(0);
    // Op locations come back through the bundle's source map to the model's line in main.ts (served
    // at the page's root, so the URL's path has no folder).
    const modelLine = readFileSync(join(repo, 'examples/browser/main.ts'), 'utf8').split('\n').findIndex((l) => l.includes('const mlp: Model =')) + 1;
    expect(summary.explain?.locations).toEqual([`main.ts:${modelLine}`]);
    expect(explainText).toMatch(/graph 1: \d+ ops -> \d+ kernel\(s\)/);
    expect(explainText).toContain('matmul');
    expect(summary.backends.webgpu.sourceLanguage).toBe('WGSL');
    expect(wgslBlocks.length).toBe(summary.backends.webgpu.kernels);
    for (const src of wgslBlocks) expect(src).toContain('@compute');
  });

  it('saved a screenshot', () => {
    expect(existsSync(SCREENSHOT)).toBe(true);
  });
});
