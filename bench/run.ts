// bench: the command line. `npm run bench -- [--quick] [--filter S] [--backend NAME] [--full] [--out DIR]`
// prints a table (with a progress line while it runs) and writes JSON and Markdown (DEFAULT_OUT).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BackendName } from '../src/index.js';
import { ALL_BACKENDS, runBench, type BenchOptions, type BenchReport } from './harness.js';
import { formatMarkdown, formatTable } from './report.js';
import { WORKLOADS } from './workloads.js';

export const BENCH_USAGE = `usage: npm run bench -- [options]      (or: npx kiln bench [options])

  --quick            a short smoke run (tiny sizes, a few samples; seconds)
  --filter S         only workloads whose name contains S (comma-separate for several)
  --backend NAME     cpu, wasm or webgpu (repeat or comma-separate; default: every one that starts)
  --full             the issue's full sizes on every backend (cpu and SwiftShader use reduced sizes by default)
  --out DIR          where to write the JSON and Markdown (default bench/results in a checkout,
                     ./kiln-bench from an installed package)
  --help             this text

workloads: ${WORKLOADS.map((w) => w.name).join(', ')}`;

export interface BenchArgs extends BenchOptions { readonly out: string; readonly help: boolean }

// bench/results in a checkout; kiln-bench/ in the working folder when run from an installed
// package (dist/bench), never inside node_modules.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = path.basename(path.dirname(HERE)) === 'dist' ? path.resolve('kiln-bench') : path.join(HERE, 'results');

/** Parses the command line (throws with the usage on a bad flag). */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let filter: string | undefined, quick = false, full = false, help = false, out = DEFAULT_OUT;
  const backends: BackendName[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a.split('=')[0]} needs a value\n\n${BENCH_USAGE}`);
      return v;
    };
    const flag = a.split('=')[0];
    if (flag === '--quick') quick = true;
    else if (flag === '--full') full = true;
    else if (flag === '--help' || flag === '-h') help = true;
    else if (flag === '--filter') filter = value();
    else if (flag === '--out') out = path.resolve(value());
    else if (flag === '--backend') {
      for (const b of value().split(',').map((s) => s.trim()).filter(Boolean)) {
        if (!ALL_BACKENDS.includes(b as BackendName)) throw new Error(`unknown backend '${b}'; valid: ${ALL_BACKENDS.join(', ')}`);
        backends.push(b as BackendName);
      }
    } else throw new Error(`unknown option ${a}\n\n${BENCH_USAGE}`);
  }
  return { filter, quick, full, help, out, backends };
}

/** Writes <stamp>.json/.md and latest.json/.md; returns the JSON path. */
export function saveReport(report: BenchReport, dir: string): { json: string; md: string } {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = report.date.replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const base = path.join(dir, `bench-${stamp}${report.quick ? '-quick' : ''}`);
  const json = JSON.stringify(report, null, 2) + '\n';
  const md = formatMarkdown(report);
  fs.writeFileSync(`${base}.json`, json);
  fs.writeFileSync(`${base}.md`, md);
  fs.writeFileSync(path.join(dir, 'latest.json'), json);
  fs.writeFileSync(path.join(dir, 'latest.md'), md);
  return { json: `${base}.json`, md: `${base}.md` };
}

/** Runs the benchmark from command-line arguments; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let args: BenchArgs;
  try { args = parseBenchArgs(argv); } catch (e) { console.error((e as Error).message); return 2; }
  if (args.help) { console.log(BENCH_USAGE); return 0; }
  const tty = process.stderr.isTTY;
  const progress = (line: string) => {
    if (tty) process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
    else process.stderr.write(`${line}\n`);
  };
  if (!(globalThis as { gc?: unknown }).gc) progress('note: run node with --expose-gc (npm run bench does) so eager temporaries are freed between samples');
  const report = await runBench({ ...args, progress });
  if (tty) process.stderr.write('\r\x1b[K');
  console.log(formatTable(report));
  const saved = saveReport(report, args.out);
  console.log(`\nwrote ${path.relative(process.cwd(), saved.json)} and ${path.relative(process.cwd(), saved.md)}`);
  const failed = report.results.filter((r) => r.error);
  if (failed.length) console.log(`${failed.length} workload run(s) failed: ${failed.map((r) => `${r.backend}/${r.workload}`).join(', ')}`);
  return failed.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => { console.error(e); process.exitCode = 1; });
}
