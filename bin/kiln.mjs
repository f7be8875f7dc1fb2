#!/usr/bin/env node
// kiln's command line. Plain JavaScript because Node 20 cannot run TypeScript: each command runs
// its TypeScript module (bin/dump.ts, bench/run.ts) in a child Node that loads tsx.
//   kiln dump SCRIPT.ts [--out DIR]    kiln bench [--quick] [--filter S] [--backend NAME]    kiln --help
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = `kiln — tools for the kiln tensor compiler

usage:
  kiln dump SCRIPT.ts [--out DIR] [--sources LIST] [-- ARGS]
      run a script with compilation recorded; write graphs, fusion groups, kernel sources,
      guards, breaks, recompiles, explain() JSON and graph.html per compiled function
      (default folder kiln-dump/<script name>)
  kiln bench [--quick] [--filter S] [--backend NAME] [--full] [--out DIR]
      eager vs compiled benchmarks per backend (same as npm run bench)
  kiln --help | kiln <command> --help | kiln --version

environment: KILN_LOGS=graph,breaks,recompiles,guards,fusion,kernels (or all) prints compile
stages while a script runs.`;

/** The tsx loader as a URL for --import (from kiln's own dependencies, else the user's project). */
function tsxLoader() {
  try { return import.meta.resolve('tsx'); } catch { /* not installed beside kiln */ }
  try { return pathToFileURL(createRequire(join(process.cwd(), 'package.json')).resolve('tsx')).href; } catch { return null; }
}

function run(script, args, nodeFlags = []) {
  const loader = tsxLoader();
  if (!loader) {
    console.error('kiln: running TypeScript needs tsx (npm i -D tsx)');
    process.exit(1);
  }
  const child = spawn(process.execPath, [...nodeFlags, '--import', loader, join(root, script), ...args], { stdio: 'inherit', env: process.env });
  child.on('exit', (code, signal) => { process.exit(code ?? (signal ? 1 : 0)); });
}

const [cmd, ...rest] = process.argv.slice(2);
switch (cmd) {
  case undefined: case '--help': case '-h': case 'help':
    console.log(USAGE);
    break;
  case '--version': case '-v':
    console.log(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    break;
  case 'dump':
    if (rest.includes('--help') || rest.includes('-h')) run('bin/dump.ts', ['--help']);
    else run('bin/dump.ts', rest);
    break;
  case 'bench':
    if (!existsSync(join(root, 'bench/run.ts'))) { console.error('kiln bench: bench/run.ts is not in this installation (run it from a kiln checkout)'); process.exit(1); }
    run('bench/run.ts', rest, ['--expose-gc']);
    break;
  default:
    console.error(`kiln: unknown command '${cmd}'\n\n${USAGE}`);
    process.exit(2);
}
