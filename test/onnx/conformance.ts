// The ONNX backend conformance cases (Debian's libonnx-testdata: node, pytorch-converted,
// pytorch-operator, simple): discovery, one runner per mode (backend, eager or compiled), and the
// comparison with the suite's tolerances. Shared by the vitest suite and `npm run onnx:report`.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as kiln from '../../src/index.js';
import type { BackendName, Tensor } from '../../src/index.js';
import { decodeModel, decodeTensorProto, hostFromProto } from '../../src/onnx/proto.js';
import { unsupportedOps } from '../../src/onnx/module.js';
import { HostTensor, elemTypeName, kilnDTypeOf } from '../../src/onnx/host.js';
import { OnnxUnsupportedError } from '../../src/onnx/errors.js';

export const DATA_ROOT = process.env.KILN_ONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data';
export const SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'] as const;
export type SuiteName = (typeof SUITES)[number];

/** The suite's tolerances (onnx/backend/test/runner: rtol 1e-3, atol 1e-7). */
export const RTOL = 1e-3;
export const ATOL = 1e-7;

export interface Case {
  readonly suite: SuiteName;
  readonly name: string;
  readonly dir: string;
  /** `suite/name`, the id the allowlist uses. */
  readonly id: string;
}

/** Whether the data is installed. */
export const dataAvailable = (): boolean => existsSync(join(DATA_ROOT, 'node'));

/** Every case with a model file, in name order. */
export function listCases(suites: readonly SuiteName[] = SUITES): Case[] {
  const out: Case[] = [];
  for (const suite of suites) {
    const root = join(DATA_ROOT, suite);
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root).sort()) {
      const dir = join(root, name);
      if (existsSync(join(dir, 'model.onnx'))) out.push({ suite, name, dir, id: `${suite}/${name}` });
    }
  }
  return out;
}

export interface Mode {
  readonly backend: BackendName;
  readonly compiled: boolean;
}
export const modeName = (m: Mode) => `${m.compiled ? 'compiled' : 'eager'} ${m.backend}`;

export type Outcome =
  | { readonly status: 'passed' }
  | { readonly status: 'failed'; readonly reason: string }
  /** The model uses ops or element types kiln does not support. */
  | { readonly status: 'unsupported'; readonly reason: string; readonly missing: readonly string[] };

interface DataSet { readonly inputs: HostTensor[]; readonly names: string[]; readonly outputs: HostTensor[] }

function dataSets(dir: string): DataSet[] {
  return readdirSync(dir).filter((d) => d.startsWith('test_data_set')).sort().map((d) => {
    const files = (prefix: string) => readdirSync(join(dir, d)).filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
      .sort((a, b) => parseInt(a.slice(prefix.length), 10) - parseInt(b.slice(prefix.length), 10))
      .map((f) => decodeTensorProto(readFileSync(join(dir, d, f))));
    const ins = files('input_');
    return { inputs: ins.map((tp) => hostFromProto(tp)), names: ins.map((tp) => tp.name), outputs: files('output_').map((tp) => hostFromProto(tp)) };
  });
}

/** Mismatches of a result against the expected values (empty when they agree within tolerance). */
export function compare(got: Tensor, want: HostTensor, rtol = RTOL, atol = ATOL): string | null {
  const shape = want.shape;
  if (got.shape.length !== shape.length || got.shape.some((d, i) => d !== shape[i])) return `shape [${got.shape.join(',')}], expected [${shape.join(',')}]`;
  const g = got.data();
  const float = kilnDTypeOf(want.type) === 'float32';
  let bad = 0, first = '';
  for (let i = 0; i < g.length; i++) {
    const a = g[i], w = want.data[i];
    let ok: boolean;
    if (!float) ok = a === w || (want.type === 9 && Boolean(a) === Boolean(w));
    else if (Number.isNaN(w) || Number.isNaN(a)) ok = Number.isNaN(w) && Number.isNaN(a);
    else if (!Number.isFinite(w) || !Number.isFinite(a)) ok = a === w;
    else ok = Math.abs(a - w) <= atol + rtol * Math.abs(w);
    if (!ok && bad++ === 0) first = `at ${i}: got ${a}, expected ${w}`;
  }
  return bad ? `${bad} of ${g.length} values differ (first ${first})` : null;
}

const errorText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/** Runs one case in one mode. */
export async function runCase(c: Case, mode: Mode): Promise<Outcome> {
  const bytes = readFileSync(join(c.dir, 'model.onnx'));
  const proto = decodeModel(bytes);
  const missing = [...unsupportedOps(proto).keys()];
  if (missing.length) return { status: 'unsupported', reason: `ops: ${missing.join(', ')}`, missing };
  const types = [...proto.graph!.input, ...proto.graph!.output].map((v) => (v.type?.value.case === 'tensorType' ? v.type.value.value.elemType : -1));
  // kiln has no half type: float16 results would carry float32 precision, not the model's.
  const bad = types.filter((t) => t === -1 || !kilnDTypeOf(t) || t === 10 || t === 16);
  if (bad.length) return { status: 'unsupported', reason: `types: ${[...new Set(bad.map((t) => (t === -1 ? 'sequence/optional' : elemTypeName(t))))].join(', ')}`, missing: [] };
  let sets: DataSet[];
  try { sets = dataSets(c.dir); } catch (e) { return { status: 'unsupported', reason: `data: ${errorText(e)}`, missing: [] }; }
  try {
    const model = await kiln.onnx.load(bytes, { backend: mode.backend, trainable: false });
    const forward = (...xs: Tensor[]) => model.forward(...xs);
    const run = mode.compiled ? kiln.compile(forward, { backend: mode.backend }) : forward;
    for (const [k, set] of sets.entries()) {
      let inputs: Tensor[];
      try {
        const byName = new Map(set.names.map((n, i) => [n, set.inputs[i]]));
        const ordered = set.names.every((n) => model.inputNames.includes(n)) ? model.inputNames.map((n) => byName.get(n)!) : set.inputs;
        // Inputs read as values (axes, shapes) must be readable at once: eagerly on webgpu they go on
        // the cpu. compile() takes arguments on its own backend only, so compiled on webgpu such a
        // case is unsupported (reported skipped by name).
        const where = (i: number) => (model.valueInputs.includes(model.inputNames[i]) && mode.backend === 'webgpu' && !mode.compiled ? 'cpu' : mode.backend);
        inputs = ordered.map((h, i) => h.toTensor(where(i), `input ${i}`));
      } catch (e) {
        const double = /double/.test(errorText(e));
        return { status: 'unsupported', reason: `input data: ${errorText(e)}`, missing: [double ? 'float64 input data that float32 cannot hold exactly' : 'input data kiln cannot hold'] };
      }
      const out = run(...inputs);
      const outs = Array.isArray(out) ? out : [out];
      for (let i = 0; i < set.outputs.length; i++) {
        if (!outs[i]) return { status: 'failed', reason: `data set ${k}: output ${i} missing` };
        const err = compare(mode.backend === 'webgpu' ? await outs[i].toAsync('cpu') : outs[i], set.outputs[i]);
        if (err) return { status: 'failed', reason: `data set ${k}: output ${i} '${model.outputNames[i]}': ${err}` };
      }
    }
    return { status: 'passed' };
  } catch (e) {
    if (e instanceof OnnxUnsupportedError) return { status: 'unsupported', reason: e.message, missing: [] };
    return { status: 'failed', reason: errorText(e).split('\n')[0] };
  }
}

/** The allowlist: ids of the cases expected to pass in every mode (test/onnx/conformance-allowlist.txt). */
export function readAllowlist(): Set<string> {
  const text = readFileSync(new URL('./conformance-allowlist.txt', import.meta.url), 'utf8');
  return new Set(text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean));
}

/** Why a case cannot run, known from its model alone (ops or element types kiln lacks), or null. */
export function staticUnsupported(c: Case): string | null {
  let proto;
  try { proto = decodeModel(readFileSync(join(c.dir, 'model.onnx'))); } catch (e) { return `model: ${errorText(e)}`; }
  const missing = [...unsupportedOps(proto).keys()];
  if (missing.length) return `ops ${missing.join(', ')}`;
  const types = [...proto.graph!.input, ...proto.graph!.output].map((v) => (v.type?.value.case === 'tensorType' ? v.type.value.value.elemType : -1));
  const bad = types.filter((t) => t === -1 || !kilnDTypeOf(t) || t === 10 || t === 16);
  if (bad.length) return `types ${[...new Set(bad.map((t) => (t === -1 ? 'sequence/optional' : elemTypeName(t))))].join(', ')}`;
  return null;
}

/**
 * A fixed sample of the allowlisted cases (every `every`-th, from `offset`): the default test run's
 * share of a mode, and webgpu's (slow on SwiftShader). Different offsets per mode make the modes of
 * the default run cover different cases.
 */
export function sampleOf(allow: ReadonlySet<string>, every: number, offset = 0): (c: Case) => boolean {
  const picked = new Set([...allow].sort().filter((_, i) => i % every === offset % every));
  return (c) => picked.has(c.id);
}

/**
 * KILN_ONNX_FULL=1 (`npm run onnx:conformance` runs it) runs every case in every mode; the default
 * `npm test` runs every case eagerly on cpu and a quarter of the allowlist in each other mode, so the
 * whole suite stays a few minutes on two cores.
 */
export const FULL_RUN = process.env.KILN_ONNX_FULL === '1';
export const everyCase = (): boolean => true;
export const defaultShare = (offset: number): ((c: Case) => boolean) => (FULL_RUN ? everyCase : sampleOf(readAllowlist(), 4, offset));

/** Counts and names per suite, as the summary prints them. */
export function summarize(results: ReadonlyMap<string, Outcome>, allow: ReadonlySet<string>): string {
  const lines: string[] = [];
  for (const s of SUITES) {
    const mine = [...results].filter(([id]) => id.startsWith(`${s}/`));
    if (!mine.length) continue;
    const count = (st: Outcome['status']) => mine.filter(([, r]) => r.status === st).length;
    lines.push(`  ${s}: ${count('passed')} passed, ${count('failed')} failed, ${count('unsupported')} unsupported (of ${mine.length})`);
  }
  const failed = [...results].filter(([, r]) => r.status === 'failed');
  if (failed.length) lines.push(`  failed: ${failed.map(([id, r]) => `${id}${allow.has(id) ? ' [ALLOWLISTED]' : ''} (${'reason' in r ? r.reason : ''})`).join('; ')}`);
  const extra = [...results].filter(([id, r]) => r.status === 'passed' && !allow.has(id)).map(([id]) => id);
  if (extra.length) lines.push(`  passing but not on the allowlist (add them): ${extra.join(', ')}`);
  const byOp = new Map<string, string[]>();
  for (const [id, r] of results) {
    if (r.status !== 'unsupported') continue;
    const keys = r.missing.length ? r.missing : [r.reason.replace(/^onnx: node [^:]*: /, '').split(/[(:]/)[0].trim()];
    for (const k of keys) byOp.set(k, [...(byOp.get(k) ?? []), id.split('/')[1]]);
  }
  if (byOp.size) lines.push(`  unsupported, by missing op or feature:\n${[...byOp].sort((a, b) => b[1].length - a[1].length).map(([k, ids]) => `    ${k} (${ids.length}): ${ids.join(' ')}`).join('\n')}`);
  return lines.join('\n');
}
