// kiln dump, the recorder (bin/kiln.mjs runs it: dist/bin/dump.js from an installed package, this
// file through tsx in a checkout): runs a user's script with compilation recorded, then writes the
// dump folder (dump-writer.ts) and prints a short summary.
//   node [--import tsx] --import bin/one-kiln.mjs bin/dump.ts SCRIPT [--out DIR] [--sources cpu,webgpu] [-- script args]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BackendName } from '../src/core/backend.js';
import * as kiln from '../src/index.js';
import { compiledRegistry } from '../compiler/compile.js';
import { setLogs } from '../compiler/logs.js';
import { DumpRecorder, checkOut, formatSummary, writeDump } from './dump-writer.js';

export const DUMP_USAGE = `usage: kiln dump SCRIPT [--out DIR] [--sources LIST] [-- SCRIPT ARGS]

Runs SCRIPT (TypeScript or JavaScript, ES module or CommonJS) with compilation recorded and writes one folder per compiled function and signature:
traced and optimised graphs (text and table), fusion groups, kernel IR and generated source
(JS for cpu, WGSL for webgpu, WAT for wasm), guards, graph breaks with their source lines,
recompile reasons, explain() as JSON, and graph.html (the graph, fused kernels coloured).

  --out DIR        where to write (default kiln-dump/<script name>)
  --sources LIST   also write each kernel's source for these backends (e.g. webgpu,wasm)
  KILN_LOGS=...    prints compile stages while the script runs (${'graph,breaks,recompiles,guards,fusion,kernels'})`;

interface DumpArgs { script: string; out: string; sources: BackendName[]; scriptArgs: string[] }

function parseArgs(argv: readonly string[]): DumpArgs {
  let script: string | undefined, out: string | undefined;
  const sources: BackendName[] = [];
  const scriptArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { scriptArgs.push(...argv.slice(i + 1)); break; }
    if (a === '--out' || a.startsWith('--out=')) out = a.includes('=') ? a.slice(6) : argv[++i];
    else if (a === '--sources' || a.startsWith('--sources=')) {
      const v = a.includes('=') ? a.slice(10) : argv[++i];
      for (const b of (v ?? '').split(',').filter(Boolean)) {
        if (!['cpu', 'wasm', 'webgpu'].includes(b)) throw new Error(`--sources: unknown backend '${b}'; valid: cpu, wasm, webgpu`);
        sources.push(b as BackendName);
      }
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}\n\n${DUMP_USAGE}`);
    else if (!script) script = a;
    else scriptArgs.push(a);
  }
  if (!script) throw new Error(`kiln dump needs a script\n\n${DUMP_USAGE}`);
  if (out === undefined && argv.some((x) => x === '--out')) throw new Error('--out needs a folder');
  const abs = path.resolve(script);
  if (!fs.existsSync(abs)) throw new Error(`kiln dump: no such script: ${script}`);
  const name = path.basename(abs).replace(/\.[cm]?[jt]sx?$/, '');
  return { script: abs, out: path.resolve(out ?? path.join('kiln-dump', name)), sources, scriptArgs };
}

async function main(): Promise<void> {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h') && !process.argv.slice(2).includes('--')) {
    console.log(DUMP_USAGE);
    return;
  }
  let args: DumpArgs;
  try {
    args = parseArgs(process.argv.slice(2));
    checkOut(args.out);
    setLogs(); // KILN_LOGS: an unknown name is an error listing the valid ones, before anything runs
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  for (const b of args.sources) {
    try { await kiln.initBackend(b); } catch (e) { console.error(`kiln dump: --sources ${b}: backend unavailable (${(e as Error).message.split('\n')[0]}); skipping its sources`); }
  }
  // bin/one-kiln.mjs hands this namespace to the script's require('kiln'): one kiln in the process.
  (globalThis as { [k: symbol]: unknown })[Symbol.for('kiln.one')] = kiln;
  const rec = new DumpRecorder();
  rec.start();
  compiledRegistry.retainAll(); // the dump lists compiled functions the script dropped too
  const t0 = performance.now();
  let written = false;
  let failed = false;
  const write = () => {
    if (written) return;
    written = true;
    rec.finish();
    try {
      const index = writeDump(compiledRegistry, rec, { out: args.out, script: args.script, scriptMs: performance.now() - t0, extraSources: args.sources });
      console.log(`\n${formatSummary(index, args.out)}`);
      if (failed) process.exitCode = 1;
    } catch (e) {
      console.error(`kiln dump: writing ${args.out} failed: ${(e as Error).stack}`);
      process.exitCode = 1;
    }
  };
  // The script may end by draining its promises (beforeExit) or by calling process.exit (exit): both write.
  process.once('beforeExit', write);
  process.once('exit', write);
  // The script sees its own path and arguments, as if run directly (main-module checks keep working).
  process.argv = [process.argv[0], args.script, ...args.scriptArgs];
  try {
    await import(pathToFileURL(args.script).href);
  } catch (e) {
    failed = true;
    console.error(`kiln dump: ${path.relative(process.cwd(), args.script)} threw: ${(e as Error).stack ?? e}`);
    console.error('kiln dump: writing what was compiled before the error');
  }
  process.on('unhandledRejection', (e) => { failed = true; console.error(`kiln dump: unhandled rejection in the script: ${(e as Error).stack ?? e}`); });
}

void main();
