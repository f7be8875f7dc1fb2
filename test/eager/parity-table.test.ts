// docs/parity.md stays current: the names it marks present exist, the names it marks missing do not,
// and every export of kiln with a torch name appears in it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as kiln from '../../src/index.js';

const TABLE = readFileSync(new URL('../../docs/parity.md', import.meta.url), 'utf8');

/** Top-level exports with no torch counterpart (kiln's own machinery), and the namespaces checked below. */
const KILN_ONLY = new Set([
  'AutogradError', 'DTypeError', 'GraphBreakError', 'KilnError', 'OutOfMemoryError', 'ShapeError', 'OPS', 'OP_NAMES', 'Tensor',
  'configureMemory', 'currentBackend', 'explain', 'getBackend', 'graphBreak', 'hasBackend', 'initBackend', 'isCompiling', 'keep',
  'memory', 'printGraph', 'printGraphTable', 'ready', 'releaseMemory', 'resetCompileCache', 'setBackend', 'setLogs', 'tidy',
  'nn', 'optim', 'linalg',
]);

interface Row { line: number; names: string[]; present: boolean }

function rows(): Row[] {
  const out: Row[] = [];
  TABLE.split('\n').forEach((text, i) => {
    const cells = text.split('|').map((c) => c.trim());
    if (cells.length < 5 || cells[1] === 'torch' || cells[1].startsWith('---')) return;
    const status = cells[3];
    if (status !== 'yes' && status !== 'no') throw new Error(`docs/parity.md line ${i + 1}: status must be yes or no, got ${JSON.stringify(status)}`);
    const names = [...cells[2].matchAll(/`((?:kiln|nn|Tensor)\.[\w.$]+)`/g)].map((m) => m[1]);
    out.push({ line: i + 1, names, present: status === 'yes' });
  });
  return out;
}

/** The value a table name refers to (undefined when kiln has no such export). */
function resolve(name: string): unknown {
  const [head, ...rest] = name.split('.');
  if (head === 'Tensor') return rest.length === 1 && rest[0] in kiln.Tensor.prototype ? true : undefined;
  let v: unknown = head === 'nn' ? kiln.nn : kiln;
  for (const part of rest) {
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return undefined;
    v = Object.prototype.hasOwnProperty.call(v, part) || part in (v as object) ? (v as Record<string, unknown>)[part] : undefined;
  }
  return v;
}

describe('docs/parity.md', () => {
  const table = rows();

  it('has rows, each naming kiln paths', () => {
    expect(table.length).toBeGreaterThan(40);
    expect(table.filter((r) => r.names.length === 0).map((r) => r.line)).toEqual([]);
  });

  it('every name of a "yes" row exists; no name of a "no" row does', () => {
    const missing = table.filter((r) => r.present).flatMap((r) => r.names.filter((n) => resolve(n) === undefined).map((n) => `line ${r.line}: ${n}`));
    const stale = table.filter((r) => !r.present).flatMap((r) => r.names.filter((n) => resolve(n) !== undefined).map((n) => `line ${r.line}: ${n} exists now; mark it yes`));
    expect(missing).toEqual([]);
    expect(stale).toEqual([]);
  });

  it('lists every torch-named export of kiln, kiln.nn, kiln.nn.init, kiln.optim and kiln.linalg', () => {
    const listed = new Set(table.flatMap((r) => r.names));
    const want = [
      ...Object.keys(kiln).filter((n) => !KILN_ONLY.has(n)).map((n) => `kiln.${n}`),
      ...Object.keys(kiln.nn).filter((n) => n !== 'init').map((n) => `nn.${n}`),
      ...Object.keys(kiln.nn.init).map((n) => `nn.init.${n}`),
      ...Object.keys(kiln.optim).map((n) => `kiln.optim.${n}`),
      ...Object.keys(kiln.linalg).map((n) => `kiln.linalg.${n}`),
    ];
    expect(want.filter((n) => !listed.has(n))).toEqual([]);
  });
});
