// `npm run fuzz -- --programs N [--backend cpu,wasm,webgpu] [--seed S] [--time-limit SEC]`: runs
// random programs eagerly and compiled on each backend, prints a progress line, programs per second
// and every mismatch (the first ones of each kind shrunk to a minimal program printed as a pasteable
// test); exits 1 on any mismatch.
import * as k from '../../src/index.js';
import type { BackendName } from '../../src/index.js';
import { emitRepro, emitWorld } from './emit.js';
import { FEATURES, generate } from './generate.js';
import type { Program } from './program.js';
import { runProgram, signature, type Finding } from './runner.js';
import { shrink } from './shrink.js';

export const FUZZ_USAGE = `usage: npm run fuzz -- [options]

  --programs N        programs per backend (default 200)
  --backend LIST      cpu, wasm, webgpu, comma-separated (default cpu,wasm)
  --seed S            the run's seed (default 1); program i of seed S is always the same program
  --time-limit SEC    stop each backend after SEC seconds (default: none)
  --index I           run only program I (with --show: print it)
  --from I            start at program I (programs I .. I+N-1)
  --show              print each program's source
  --no-cross          do not also compare eager on the backend with eager on cpu
  --shrink N          shrink at most N failing programs (default 12; 0: none)
  --shrink-time SEC   time for shrinking one program (default 30)
  --small             smaller programs (what the CI test runs)
  --without LIST      leave features out, to see past a bug that hides others:
                      ${FEATURES.join(', ')}
  --help              this text`;

export interface FuzzArgs {
  programs: number;
  backends: BackendName[];
  seed: number;
  timeLimit: number;
  index: number | null;
  from: number;
  show: boolean;
  cross: boolean;
  shrink: number;
  shrinkTime: number;
  small: boolean;
  without: Set<string>;
  help: boolean;
}

export function parseFuzzArgs(argv: readonly string[]): FuzzArgs {
  const a: FuzzArgs = { programs: 200, backends: ['cpu', 'wasm'], seed: 1, timeLimit: Infinity, index: null, from: 0, show: false, cross: true, shrink: 12, shrinkTime: 30, small: false, without: new Set(), help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const flag = arg.split('=')[0];
    const value = (): string => {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value\n\n${FUZZ_USAGE}`);
      return v;
    };
    const num = (): number => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a non-negative number\n\n${FUZZ_USAGE}`);
      return v;
    };
    switch (flag) {
      case '--programs': a.programs = Math.floor(num()); break;
      case '--backend': {
        a.backends = value().split(',').map((s) => s.trim()).filter(Boolean) as BackendName[];
        const bad = a.backends.find((b) => !['cpu', 'wasm', 'webgpu'].includes(b));
        if (bad) throw new Error(`unknown backend '${bad}'; valid: cpu, wasm, webgpu`);
        break;
      }
      case '--seed': a.seed = Math.floor(num()); break;
      case '--time-limit': a.timeLimit = num(); break;
      case '--index': a.index = Math.floor(num()); break;
      case '--from': a.from = Math.floor(num()); break;
      case '--show': a.show = true; break;
      case '--no-cross': a.cross = false; break;
      case '--shrink': a.shrink = Math.floor(num()); break;
      case '--shrink-time': a.shrinkTime = num(); break;
      case '--small': a.small = true; break;
      case '--without': {
        a.without = new Set(value().split(',').map((x) => x.trim()).filter(Boolean));
        const bad = [...a.without].find((x) => !(FEATURES as readonly string[]).includes(x));
        if (bad) throw new Error(`unknown feature '${bad}'; valid: ${FEATURES.join(', ')}`);
        break;
      }
      case '--help': case '-h': a.help = true; break;
      default: throw new Error(`unknown option ${arg}\n\n${FUZZ_USAGE}`);
    }
  }
  return a;
}

/** Starts a backend, or says why it cannot (webgpu without an adapter is skipped by name). */
export async function startBackend(b: BackendName): Promise<string | null> {
  try {
    await k.initBackend(b);
    const got = Array.from(await k.tensor([1, 2, 3], { backend: b }).add(1).dataAsync());
    if (got.join() !== '2,3,4') return `smoke test [1,2,3] + 1 read back [${got.join(',')}]`;
    return null;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

export interface Failure { readonly backend: BackendName; readonly program: Program; readonly findings: readonly Finding[] }

export function describeFinding(b: BackendName, p: Program, f: Finding, opts: { small?: boolean; without?: ReadonlySet<string> } = {}): string {
  return [
    `MISMATCH ${b} seed ${p.seed} #${p.index} [${f.kind}] call ${f.call} (${f.label}) at ${f.path}: ${f.detail}`,
    `  eager:    ${f.eager}`,
    `  compiled: ${f.compiled}`,
    `  rerun:    npm run fuzz -- --seed ${p.seed} --index ${p.index} --backend ${b}${opts.small ? ' --small' : ''}${opts.without?.size ? ` --without ${[...opts.without].join(',')}` : ''} --show`,
  ].join('\n');
}

/** Runs the programs of one backend; returns failures and counts. */
export async function fuzzBackend(b: BackendName, a: FuzzArgs, progress: (line: string) => void): Promise<{ failures: Failure[]; programs: number; seconds: number; genErrors: string[] }> {
  const failures: Failure[] = [];
  const genErrors: string[] = [];
  const t0 = performance.now();
  let ran = 0, lastProgress = 0;
  const indices = a.index !== null ? [a.index] : Array.from({ length: a.programs }, (_, i) => a.from + i);
  for (const i of indices) {
    if ((performance.now() - t0) / 1000 > a.timeLimit) break;
    let p: Program;
    try { p = generate(a.seed, i, { small: a.small, without: a.without }); } catch (e) { genErrors.push(`#${i}: ${(e as Error).stack}`); continue; }
    if (a.show) console.log(`// program ${a.seed}#${i}\n${emitWorld(p, { ts: true, asyncReads: b === 'webgpu' })}\n`);
    let findings: Finding[];
    try {
      findings = await runProgram(p, { backend: b, crossCheck: a.cross });
    } catch (e) {
      findings = [{ kind: 'error-parity', call: -1, label: 'harness', path: 'out', detail: `the fuzz harness failed: ${(e as Error).stack}`, eager: '', compiled: '' }];
    }
    ran++;
    if (findings.length) failures.push({ backend: b, program: p, findings });
    const now = performance.now();
    if (now - lastProgress > 1000 || ran === indices.length) {
      lastProgress = now;
      const s = (now - t0) / 1000;
      progress(`[${b}] ${ran}/${indices.length} programs, ${failures.length} mismatching, ${(ran / s).toFixed(1)} programs/s`);
    }
  }
  return { failures, programs: ran, seconds: (performance.now() - t0) / 1000, genErrors };
}

/** The whole command; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let a: FuzzArgs;
  try { a = parseFuzzArgs(argv); } catch (e) { console.error((e as Error).message); return 2; }
  if (a.help) { console.log(FUZZ_USAGE); return 0; }
  const tty = process.stderr.isTTY;
  const progress = (line: string) => { if (tty) process.stderr.write(`\r\x1b[K${line}`); else process.stderr.write(`${line}\n`); };
  await k.ready();
  const all: Failure[] = [];
  const summary: string[] = [];
  let anyGenErrors = false;
  for (const b of a.backends) {
    const why = await startBackend(b);
    if (why) { summary.push(`${b}: SKIPPED (backend did not start: ${why})`); console.log(`[${b}] skipped: ${why}`); continue; }
    const r = await fuzzBackend(b, a, progress);
    if (tty) process.stderr.write('\n');
    all.push(...r.failures);
    const byKind = new Map<string, number>();
    for (const f of r.failures) for (const s of new Set(f.findings.map((x) => signature(x).split('@')[0]))) byKind.set(s, (byKind.get(s) ?? 0) + 1);
    summary.push(`${b}: ${r.programs} programs, ${r.failures.length} mismatching, ${(r.programs / r.seconds).toFixed(1)} programs/s (${r.seconds.toFixed(1)} s)` +
      (byKind.size ? `\n    ${[...byKind].sort((x, y) => y[1] - x[1]).map(([s, n]) => `${s} ×${n}`).join(', ')}` : ''));
    for (const e of r.genErrors) { anyGenErrors = true; console.log(`GENERATOR ERROR ${b} ${e}`); }
  }
  for (const f of all) console.log(describeFinding(f.backend, f.program, f.findings[0], a));
  // Shrink the first failures of each signature, round robin, and print them as tests.
  const groups = new Map<string, Failure[]>();
  for (const f of all) {
    const key = `${f.backend} ${signature(f.findings[0])} ${f.findings[0].label}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(f);
  }
  const queue: Failure[] = [];
  for (let round = 0; queue.length < a.shrink && round < 50; round++) {
    let added = false;
    for (const g of groups.values()) if (g[round] && queue.length < a.shrink) { queue.push(g[round]); added = true; }
    if (!added) break;
  }
  const printed = new Set<string>();
  for (const f of queue) {
    progress(`shrinking ${f.backend} seed ${f.program.seed} #${f.program.index} (${signature(f.findings[0])})...`);
    const r = await shrink(f.program, f.findings[0], { backend: f.backend, crossCheck: a.cross }, a.shrinkTime * 1000);
    if (tty) process.stderr.write('\r\x1b[K');
    const body = emitWorld(r.program, { ts: true, asyncReads: f.backend === 'webgpu' });
    if (printed.has(f.backend + body)) continue;
    printed.add(f.backend + body);
    const note = `${describeFinding(f.backend, f.program, r.finding, a)}\nshrunk in ${r.steps} steps (${r.tries} runs) from ${f.program.body.length} to ${r.program.body.length} statements`;
    console.log(`\n${'-'.repeat(100)}\n${emitRepro(r.program, f.backend, note, f.backend === 'webgpu')}`);
  }
  console.log(`\n${summary.join('\n')}`);
  return all.length || anyGenErrors ? 1 : 0;
}
