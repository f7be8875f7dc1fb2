// Source locations of traced ops and graph breaks (compiler/location.ts): the first stack frame outside
// kiln, through source maps, wherever kiln runs from. Synthetic stacks cover each layout (sources
// under tsx or vitest, dist/ raw or mapped by the runtime, a user's compiled script with its map, one
// bundle holding kiln and the user's code); test/package/pack.test.ts checks real processes of an
// installed kiln, test/browser/e2e.test.ts a bundle in Chromium.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encode, type SourceMapSegment } from '@jridgewell/sourcemap-codec';
import { afterAll, describe, expect, it } from 'vitest';
import * as kiln from '../../src/index.js';
import { parseStack, userLocation } from '../../compiler/location.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-loc-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const v8 = (...frames: string[]) => ['Error', ...frames.map((f) => `    at fn (${f})`)].join('\n');

/** Writes a generated script of `lines` lines whose source map sends line g (1-based) to `to[g]`. */
function scriptWithMap(name: string, lines: number, to: Record<number, { source: string; line: number }>, inline = false): string {
  const sources = [...new Set(Object.values(to).map((t) => t.source))];
  const mappings: SourceMapSegment[][] = Array.from({ length: lines }, (_, i) => {
    const t = to[i + 1];
    return t ? [[0, sources.indexOf(t.source), t.line - 1, 0]] : [];
  });
  const map = JSON.stringify({ version: 3, sources, names: [], mappings: encode(mappings) });
  const file = path.join(tmp, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const url = inline ? `data:application/json;base64,${Buffer.from(map).toString('base64')}` : `${path.basename(name)}.map`;
  if (!inline) fs.writeFileSync(`${file}.map`, map);
  fs.writeFileSync(file, `${'void 0;\n'.repeat(lines)}//# sourceMappingURL=${url}\n`);
  return file;
}

describe('parseStack', () => {
  it('reads V8 and SpiderMonkey/JavaScriptCore frames, file URLs and plain paths', () => {
    const stack = [
      'Error: x',
      '    at callerLocation (file:///k/compiler/location.js:12:3)',
      '    at /u/a.mjs:3:14',
      '    at async Promise.all (index 0)',
      '    at Array.map (<anonymous>)',
      'f@http://localhost:8080/dist/main.js:100:7',
      '@http://localhost:8080/dist/chunk.js:5:1',
      '    at eval (eval at run (/u/b.js:1:1), <anonymous>:1:1)',
    ].join('\n');
    expect(parseStack(stack)).toEqual([
      { file: '/k/compiler/location.js', line: 12, column: 3 },
      { file: '/u/a.mjs', line: 3, column: 14 },
      { file: 'http://localhost:8080/dist/main.js', line: 100, column: 7 },
      { file: 'http://localhost:8080/dist/chunk.js', line: 5, column: 1 },
    ]);
  });
});

describe('userLocation', () => {
  it('skips kiln\'s sources (tsx, vitest) without mistaking a user\'s own src/ folder for kiln\'s', () => {
    expect(userLocation(v8('/k/compiler/location.ts:20:5', '/k/compiler/trace.ts:148:3', '/k/src/tensor.ts:30:1', '/u/src/model.ts:7:9', '/u/main.ts:2:1')))
      .toBe('src/model.ts:7');
  });

  it('skips kiln\'s dist/, raw (plain node) or mapped back to the sources by the runtime (--enable-source-maps, tsx)', () => {
    expect(userLocation(v8('/k/dist/compiler/location.js:20:5', '/k/dist/compiler/trace.js:148:3', '/k/dist/backends/wasm/index.js:9:1', '/u/a.mjs:3:1'))).toBe('u/a.mjs:3');
    expect(userLocation(v8('/k/compiler/location.ts:20:5', '/k/src/tensor.ts:30:1', '/u/a.mjs:3:1'))).toBe('u/a.mjs:3');
    expect(userLocation(v8('/k/dist/compiler/location.js:20:5', '/k/src/tensor.ts:30:1', '/u/a.mjs:3:1'))).toBe('u/a.mjs:3');
  });

  it('maps a user\'s compiled script through its source map (a .map file or an inline one)', () => {
    const gen = scriptWithMap('out/gen.js', 20, { 10: { source: '../src/orig.ts', line: 4 } });
    expect(userLocation(v8('/k/compiler/location.ts:1:1', `${gen}:10:3`))).toBe('src/orig.ts:4');
    const inline = scriptWithMap('out/inline.js', 20, { 12: { source: '../src/other.ts', line: 8 } }, true);
    expect(userLocation(v8('/k/compiler/location.ts:1:1', `${inline}:12:1`))).toBe('src/other.ts:8');
  });

  it('tells kiln\'s frames from the user\'s inside one bundle by its source map', () => {
    const bundle = scriptWithMap('page/bundle.js', 400, {
      100: { source: '../../repo/compiler/location.ts', line: 30 },
      200: { source: '../../repo/src/tensor.ts', line: 50 },
      250: { source: '../../repo/compiler/trace.ts', line: 148 },
      300: { source: '../app/main.ts', line: 12 },
    });
    expect(userLocation(v8(`${bundle}:100:5`, `${bundle}:200:1`, `${bundle}:250:1`, `${bundle}:300:9`))).toBe('app/main.ts:12');
  });

  it('is undefined when no frame is the user\'s', () => {
    expect(userLocation(v8('/k/compiler/location.ts:1:1', '/k/src/tensor.ts:2:2'))).toBeUndefined();
    expect(userLocation(undefined)).toBeUndefined();
  });
});

describe('callerLocation in this process (vitest runs the sources)', () => {
  it('a graph break points at the line of this file that read the value', () => {
    const step = (x: kiln.Tensor) => {
      const h = x.mul(2);
      return (h.sum().item() as number) > 0 ? h.add(1) : h; // the break
    };
    const line = fs.readFileSync(new URL(import.meta.url).pathname, 'utf8').split('\n').findIndex((l) => l.includes('// the break')) + 1;
    const report = kiln.explain(step, kiln.ones([3]));
    expect(report.breaks.map((b) => b.loc)).toEqual([`package/location.test.ts:${line}`]);
  });
});
