#!/usr/bin/env node
// kiln's command line. Plain JavaScript so that it starts on any Node >= 20.19. Each command runs in
// a child Node: from an installed package the compiled modules (dist/bin/dump.js, dist/bench/run.js),
// from a checkout the TypeScript sources through tsx (src/ is the truth there; dist/ may be stale).
// `kiln dump` also loads bin/one-kiln.mjs, which makes every import of kiln in the user's script
// resolve to the same copy the recorder uses, so there is one kiln instance (see that file).
//   kiln dump SCRIPT [--out DIR]    kiln bench [--quick] [--filter S] [--backend NAME]    kiln onnx info|run MODEL.onnx    kiln --help
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = `kiln — tools for the kiln tensor compiler

usage:
  kiln dump SCRIPT [--out DIR] [--sources LIST] [-- ARGS]
      run a script (.ts, .mts, .js, .mjs, .cjs) with compilation recorded; write graphs, fusion
      groups, kernel sources, guards, breaks, recompiles, explain() JSON and graph.html per compiled
      function (default folder kiln-dump/<script name>)
  kiln bench [--quick] [--filter S] [--backend NAME] [--full] [--out DIR]
      eager vs compiled benchmarks per backend, with rooflines (npm run bench in a checkout)
  kiln onnx info MODEL.onnx [--json]
      opset, producer, inputs/outputs with shapes, parameter count, op histogram, unsupported ops
  kiln onnx run MODEL.onnx [--input NAME=FILE.pb ...] [--out DIR] [--backend NAME] [--compile]
      run an ONNX model on TensorProto inputs; print (and with --out write) its outputs
  kiln --help | kiln <command> --help | kiln --version

environment: KILN_LOGS=graph,breaks,recompiles,guards,fusion,kernels (or all) prints compile
stages while a script runs; KILN_BACKEND=cpu|wasm|webgpu picks the backend the examples use.`;

/** The tsx loader as a URL for --import (kiln's own dependency, else the user's project's), or null. */
function tsxLoader() {
  try { return import.meta.resolve('tsx'); } catch { /* not installed beside kiln */ }
  try { return pathToFileURL(createRequire(join(process.cwd(), 'package.json')).resolve('tsx')).href; } catch { return null; }
}

/**
 * Which copy of kiln the commands run: the TypeScript sources in a checkout (with tsx to run them),
 * else the compiled dist/ of an installed package.
 */
function flavor() {
  if (existsSync(join(root, 'src', 'index.ts')) && tsxLoader()) return 'src';
  if (existsSync(join(root, 'dist', 'src', 'index.js'))) return 'dist';
  fail(`kiln: ${root} has neither a built dist/ nor its sources with tsx; run \`npm ci\` there (it builds dist/)`);
}

function fail(message, code = 1) {
  console.error(message);
  process.exit(code);
}

/**
 * Runs `node [flags] MODULE ARGS`, with tsx loaded when `withTsx` and then the `imports` (in that
 * order: module hooks registered later see what the earlier ones resolved); exits with its status.
 */
function run(module, args, { nodeFlags = [], imports = [], withTsx = false, env = {} } = {}) {
  const preload = [];
  if (withTsx) {
    const loader = tsxLoader();
    if (!loader) fail('kiln: running TypeScript needs tsx (npm i -D tsx)');
    preload.push('--import', loader);
  }
  for (const url of imports) preload.push('--import', url);
  const child = spawn(process.execPath, [...nodeFlags, ...preload, module, ...args], { stdio: 'inherit', env: { ...process.env, ...env } });
  child.on('exit', (code, signal) => { process.exit(code ?? (signal ? 1 : 0)); });
}

/** Whether a dump's script is TypeScript, which needs tsx (a missing script: dump reports it). */
function scriptIsTypeScript(args) {
  const script = args.find((a, i) => !a.startsWith('-') && !['--out', '--sources'].includes(args[i - 1]));
  return script === undefined || /\.[cm]?tsx?$/.test(script);
}

const [cmd, ...rest] = process.argv.slice(2);
switch (cmd) {
  case undefined: case '--help': case '-h': case 'help':
    console.log(USAGE);
    break;
  case '--version': case '-v':
    console.log(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    break;
  case 'dump': {
    const f = flavor();
    const module = f === 'src' ? join(root, 'bin', 'dump.ts') : join(root, 'dist', 'bin', 'dump.js');
    const args = rest.includes('--help') || rest.includes('-h') ? ['--help'] : rest;
    run(module, args, {
      withTsx: f === 'src' || scriptIsTypeScript(rest),
      imports: [pathToFileURL(join(root, 'bin', 'one-kiln.mjs')).href],
      env: { KILN_ONE_KILN: f },
    });
    break;
  }
  case 'onnx': {
    const f = flavor();
    run(f === 'src' ? join(root, 'bin', 'onnx.ts') : join(root, 'dist', 'bin', 'onnx.js'), rest, { withTsx: f === 'src' });
    break;
  }
  case 'bench': {
    const f = flavor();
    run(f === 'src' ? join(root, 'bench', 'run.ts') : join(root, 'dist', 'bench', 'run.js'), rest, { nodeFlags: ['--expose-gc'], withTsx: f === 'src' });
    break;
  }
  default:
    fail(`kiln: unknown command '${cmd}'\n\n${USAGE}`, 2);
}
