// Bundles the browser demo (examples/browser/main.ts) with esbuild into examples/browser/dist/.
//
//   npx tsx examples/browser/build.ts            # build once (npm run build:browser)
//   npx tsx examples/browser/build.ts --serve    # build, then serve on http://localhost:8080/
//   npx tsx examples/browser/build.ts --serve 9000
//   npx tsx examples/browser/build.ts --no-wasm  # leave out the page's direct import of backends/wasm
//
// The bundle is ESM with code splitting: binaryen (14 MB, ESM with top-level await) lands in its own
// chunk that is fetched only when the wasm backend is initialised. Node-only modules (the `webgpu`
// package, node:* builtins) stay external; kiln reaches them only behind runtime checks for Node.
import { build, type BuildFailure, type Metafile, type Plugin } from 'esbuild';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startServer } from './serve.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
export const BROWSER_ROOT = here;
export const DIST = join(here, 'dist');
const WASM_INDEX = join(repo, 'backends/wasm/index.ts');

/** Modules that must never end up in the browser bundle. */
export const NODE_ONLY = ['webgpu', 'fs', 'path', 'url', 'module', 'child_process', 'worker_threads', 'os', 'crypto', 'node:*'];

export interface BrowserBuild {
  /** The entry chunk (dist/main.js). */
  readonly entry: string;
  readonly metafile: Metafile;
  /** How the wasm backend got into the bundle: 'direct' (backends/wasm/index.ts) or why not. */
  readonly wasm: { readonly bundled: boolean; readonly note: string };
  readonly warnings: readonly string[];
}

/** Replaces examples/browser/wasm-fallback.ts (see that file) with a lazy import of the wasm backend, or a stub. */
function wasmFallbackPlugin(mode: { direct: boolean; note: string }): Plugin {
  return {
    name: 'kiln-wasm-fallback',
    setup(b) {
      b.onLoad({ filter: /[\\/]examples[\\/]browser[\\/]wasm-fallback\.ts$/ }, () => {
        const contents = mode.direct
          ? `export const wasmFallback = {
  load: async () => {
    const m = await import(${JSON.stringify('./' + relative(here, WASM_INDEX).split('\\').join('/'))});
    const create = m.createWasmBackend;
    if (typeof create !== 'function') throw new Error('backends/wasm/index.ts exports no createWasmBackend()');
    return create();
  },
  note: '',
};`
          : `export const wasmFallback = { load: null, note: ${JSON.stringify(mode.note)} };`;
        return { contents, loader: 'ts', resolveDir: here };
      });
    },
  };
}

async function bundle(mode: { direct: boolean; note: string }, quiet: boolean) {
  return build({
    absWorkingDir: repo,
    entryPoints: { main: join(here, 'main.ts') },
    outdir: DIST,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    metafile: true,
    minify: false,
    chunkNames: 'chunks/[name]-[hash]',
    external: NODE_ONLY,
    // binaryen's factory reads globalThis.process?.versions?.node at run time; nothing to define.
    logLevel: quiet ? 'silent' : 'warning',
    plugins: [wasmFallbackPlugin(mode)],
  });
}

export interface BrowserBuildOptions {
  /** No esbuild logging. */
  readonly quiet?: boolean;
  /**
   * 'auto' (default): the page may import backends/wasm/index.ts directly when src/index.ts does not
   * register 'wasm'; 'off': it may not (to see the page's "wasm: unavailable" path). Either way a
   * wasm loader registered by src/index.ts is used.
   */
  readonly wasm?: 'auto' | 'off';
}

/** Builds the bundle. If backends/wasm exists but does not bundle (work in progress), builds without it. */
export async function buildBrowser(opts: BrowserBuildOptions = {}): Promise<BrowserBuild> {
  const quiet = opts.quiet ?? false;
  let mode = opts.wasm === 'off'
    ? { direct: false, note: 'the page was built with --no-wasm' }
    : existsSync(WASM_INDEX)
      ? { direct: true, note: '' }
      : { direct: false, note: 'backends/wasm/index.ts does not exist (yet)' };
  rmSync(DIST, { recursive: true, force: true }); // no stale chunks from an earlier build
  let result;
  try {
    result = await bundle(mode, quiet);
  } catch (e) {
    if (!mode.direct) throw e;
    const first = (e as BuildFailure).errors?.[0];
    const where = first?.location ? `${first.location.file}:${first.location.line}: ` : '';
    mode = { direct: false, note: `backends/wasm did not bundle: ${where}${first?.text ?? (e as Error).message}` };
    if (!quiet) console.warn(`build: ${mode.note}; building without the direct wasm import`);
    result = await bundle(mode, quiet);
  }
  return {
    entry: join(DIST, 'main.js'),
    metafile: result.metafile!,
    wasm: { bundled: mode.direct, note: mode.note },
    warnings: result.warnings.map((w) => w.text),
  };
}

async function cli(): Promise<void> {
  const args = process.argv.slice(2);
  const t0 = performance.now();
  const out = await buildBrowser({ wasm: args.includes('--no-wasm') ? 'off' : 'auto' });
  const outputs = Object.entries(out.metafile.outputs)
    .filter(([f]) => f.endsWith('.js'))
    .map(([f, o]) => `  ${f}  ${(o.bytes / 1024).toFixed(0)} KiB`);
  console.log(`built ${relative(process.cwd(), DIST)}/ in ${(performance.now() - t0).toFixed(0)} ms`);
  console.log(outputs.join('\n'));
  console.log(out.wasm.bundled ? 'wasm backend: bundled (lazy chunk)' : `wasm backend: not bundled (${out.wasm.note})`);
  const i = args.indexOf('--serve');
  if (i >= 0) {
    const port = Number(args[i + 1] ?? 8080) || 8080;
    const server = await startServer(BROWSER_ROOT, port);
    console.log(`serving examples/browser at ${server.url}  (Ctrl-C to stop)`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  cli().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
