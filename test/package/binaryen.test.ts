// How binaryen is loaded (backends/wasm/load-binaryen.ts): in Node as a script evaluated with node:vm,
// so that no module loader hook (tsx, vitest) sees its 15 MB; as a module where that rewrite does not
// apply. Start-up times are measured by `npm run bench`-style runs, not here: this checks the mechanism.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import * as kiln from '../../src/index.js';
import { binaryenAsScript, binaryenLoadedBy, binaryenWasmDecoded, loadBinaryen } from '../../backends/wasm/load-binaryen.js';
import { splitEmbeddedWasm } from '../../backends/wasm/embedded-wasm.js';

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
      "(async function (__kilnUrl, __kilnImport, __kilnWasm) {'use strict';\nvar m = await f(__kilnUrl);\nreturn m;\n})");
  });

  // The embedded wasm is decoded by kiln, not parsed by V8: the bytes must be the char codes of the
  // literal's value as V8 evaluates it.
  const ascii = (s: string) => new TextEncoder().encode(s);
  const v8Bytes = (literal: string) => Uint8Array.from(vm.runInThisContext(`(${literal})`) as string, (ch) => ch.charCodeAt(0));

  it('decodes every escape a template literal can hold exactly as V8 does', () => {
    const literals = [
      '`\\0asm`',
      '`\\0asm\\x00\\x7F\\xff\\xAb plain \\b\\f\\n\\r\\t\\v \\\\ \\` \\$ \\{ $ { \\\' \\" \\q \\u00e9 \\u{ff} \\u{0000041}`',
      '`\\0asm line\\\ncontinued \\\r\ncrlf raw\r\nnewlines\rand\ncr \\0 end`',
      '`\\0asm' + String.fromCharCode(...Array.from({ length: 127 }, (_, i) => i + 1).filter((c) => c !== 0x60 && c !== 0x5c)) + '`',
    ];
    for (const literal of literals) {
      const split = splitEmbeddedWasm(ascii(`var a=1;b=f(${literal}),c=2;`), 'W');
      expect(split, literal).not.toBeNull();
      expect(split!.glue).toBe('var a=1;b=W,c=2;');
      expect(Array.from(split!.wasm)).toEqual(Array.from(v8Bytes(literal)));
    }
  });

  it('leaves builds of another shape to be evaluated whole', () => {
    for (const src of [
      'b=f(`\\0asm${x}`);', // a substitution
      'b=f(`\\0asm\\01`);', // an octal escape (a syntax error in a template)
      'b=f(`\\0asm\\u0100`);', // a char code that is not a byte
      'b=f(`\\0asm\\xZZ`);', // a broken escape
      'b=f(`\\0asm`,1);', // not a one-argument call
      'b=o.f(`\\0asm`);', // a method call
      'b=(`\\0asm`);', // no call
      'b=f(`\\0asm`)+g(`\\0asm`);', // two literals
      'b=f(`\\0asm', // unterminated
    ]) expect(splitEmbeddedWasm(ascii(src), 'W'), src).toBeNull();
    expect(splitEmbeddedWasm(new Uint8Array([0x66, 0x28, 0x60, 0x5c, 0x30, 0x61, 0x73, 0x6d, 0xc3, 0xa9, 0x60, 0x29]), 'W')).toBeNull(); // not ASCII
  });

  it('splits the installed build: the decoded wasm is the literal V8 would have built, and valid', () => {
    const file = fs.readFileSync(binaryenFile);
    const split = splitEmbeddedWasm(file, '__kilnWasm');
    expect(split).not.toBeNull();
    expect(split!.glue.length).toBeLessThan(1_000_000);
    expect(binaryenAsScript(split!.glue)).not.toBeNull();
    const text = file.toString('latin1');
    const start = text.indexOf('`\\0asm');
    let close = start + 1;
    while (text[close] !== '`') close += text[close] === '\\' ? 2 : 1;
    const literal = text.slice(start, close + 1);
    expect(Buffer.from(split!.wasm).equals(Buffer.from(v8Bytes(literal)))).toBe(true);
    expect(WebAssembly.validate(split!.wasm as Uint8Array<ArrayBuffer>)).toBe(true);
  });

  it('kiln.ready() loads it as a script in Node, and it works', async () => {
    await kiln.ready();
    expect(binaryenLoadedBy).toBe('script');
    expect(binaryenWasmDecoded).toBe(true);
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
