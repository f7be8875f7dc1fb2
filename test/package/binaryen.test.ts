// How binaryen is loaded (backends/wasm/load-binaryen.ts): in Node as a script evaluated with node:vm,
// so that no module loader hook (tsx, vitest) sees its 15 MB; as a module where that rewrite does not
// apply. Start-up times are measured by `npm run bench`-style runs, not here: this checks the mechanism.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as kiln from '../../src/index.js';
import { binaryenAsScript, binaryenLoadedBy, loadBinaryen } from '../../backends/wasm/load-binaryen.js';

const binaryenFile = createRequire(import.meta.url).resolve('binaryen');

describe('loading binaryen', () => {
  it('rewrites the installed binaryen build into a script (no import.meta, no export left)', () => {
    const script = binaryenAsScript(fs.readFileSync(binaryenFile, 'utf8'));
    expect(script).not.toBeNull();
    expect(script!).not.toMatch(/\bimport\.meta\b/);
    expect(script!.slice(-200)).toMatch(/return [\w$]+;\s*\}\)$/);
  });

  it('refuses a build of another shape (the module import is used then)', () => {
    expect(binaryenAsScript('import x from "y";\nconst a = 1;\nexport { a as default };')).toBeNull();
    expect(binaryenAsScript('const a = 1, b = 2;\nexport { a as default };\nexport { b as default };')).toBeNull();
    expect(binaryenAsScript('const a = 1;\nexport default a;')).toBeNull();
    expect(binaryenAsScript('var m = await f(import.meta.url);\nexport { m as default };')).toBe(
      "(async function (__kilnUrl, __kilnImport) {'use strict';\nvar m = await f(__kilnUrl);\nreturn m;\n})");
  });

  it('kiln.ready() loads it as a script in Node, and it works', async () => {
    await kiln.ready();
    expect(binaryenLoadedBy).toBe('script');
    const b = await loadBinaryen();
    const m = new b.Module();
    m.addFunction('add', b.createType([b.i32, b.i32]), b.i32, [], m.i32.add(m.local.get(0, b.i32), m.local.get(1, b.i32)));
    m.addFunctionExport('add', 'add');
    expect(m.validate()).toBeTruthy();
    const inst = new WebAssembly.Instance(new WebAssembly.Module(m.emitBinary() as Uint8Array<ArrayBuffer>));
    m.dispose();
    expect((inst.exports.add as (a: number, b: number) => number)(2, 40)).toBe(42);
  });
});
