// kiln.save / kiln.load: files read back bit-exact, every header checked against the safetensors
// rules by a validator written here from the format's description (not kiln's decoder), module and
// optimizer state dicts that resume training exactly, foreign files, and bad input.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { BACKENDS } from '../eager/backends.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-save-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ----- a validator from the format's description ---------------------------------------------------

interface Entry { dtype: string; shape: number[]; data_offsets: [number, number] }
const SIZES: Record<string, number> = { BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8 };

/** A minimal JSON reader that reports duplicate keys (JSON.parse silently keeps the last one). */
function parseStrictJson(text: string): unknown {
  let i = 0;
  const ws = () => { while (' \t\n\r'.includes(text[i]) && i < text.length) i++; };
  const fail = (m: string): never => { throw new Error(`JSON at ${i}: ${m}`); };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; const out: Record<string, unknown> = {}; ws();
      if (text[i] === '}') { i++; return out; }
      for (;;) {
        ws(); const key = value(); if (typeof key !== 'string') fail('key');
        if (Object.prototype.hasOwnProperty.call(out, key as string)) fail(`duplicate key ${String(key)}`);
        ws(); if (text[i++] !== ':') fail('colon');
        out[key as string] = value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i++] === '}') return out;
        fail('object');
      }
    }
    if (c === '[') {
      i++; const out: unknown[] = []; ws();
      if (text[i] === ']') { i++; return out; }
      for (;;) { out.push(value()); ws(); if (text[i] === ',') { i++; continue; } if (text[i++] === ']') return out; fail('array'); }
    }
    if (c === '"') {
      const start = i++;
      while (text[i] !== '"') { if (text[i] === '\\') i++; if (++i > text.length) fail('string'); }
      i++;
      return JSON.parse(text.slice(start, i));
    }
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!m) fail('value');
    i += m![0].length;
    return JSON.parse(m![0]);
  };
  const v = value(); ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

/** Checks bytes against the safetensors rules; returns the header and the data section. */
function validate(bytes: Uint8Array): { header: Record<string, Entry>; metadata: Record<string, string>; data: Uint8Array } {
  expect(bytes.length).toBeGreaterThanOrEqual(8);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  expect(8 + n).toBeLessThanOrEqual(bytes.length);
  expect((8 + n) % 8, 'the data starts 8-byte aligned').toBe(0);
  const raw = bytes.subarray(8, 8 + n);
  const text = new TextDecoder('utf-8', { fatal: true }).decode(raw); // throws on invalid UTF-8
  expect(text[0]).toBe('{');
  const trimmed = text.replace(/ +$/, '');
  expect(/\s$/.test(trimmed), 'only trailing spaces pad the header').toBe(false);
  const parsed = parseStrictJson(trimmed) as Record<string, unknown>;
  const data = bytes.subarray(8 + n);
  const metadata = (parsed.__metadata__ ?? {}) as Record<string, string>;
  for (const v of Object.values(metadata)) expect(typeof v).toBe('string');
  const header: Record<string, Entry> = {};
  for (const [name, e] of Object.entries(parsed)) {
    if (name === '__metadata__') continue;
    const entry = e as Entry;
    expect(Object.keys(entry).sort()).toEqual(['data_offsets', 'dtype', 'shape']);
    expect(SIZES[entry.dtype], `dtype ${entry.dtype}`).toBeDefined();
    for (const d of entry.shape) expect(Number.isInteger(d) && d >= 0).toBe(true);
    const [b, e2] = entry.data_offsets;
    expect(e2 - b).toBe(entry.shape.reduce((x, y) => x * y, 1) * SIZES[entry.dtype]);
    header[name] = entry;
  }
  const spans = Object.values(header).map((e) => e.data_offsets).sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [b, e] of spans) { expect(b, 'offsets contiguous, no holes or overlaps').toBe(at); at = e; }
  expect(at, 'the tensors cover the whole data section').toBe(data.length);
  return { header, metadata, data };
}

/** The little-endian bytes of a tensor's values, as the file must hold them. */
function leBytes(t: Tensor): Uint8Array {
  const d = t.data();
  if (t.dtype === 'bool') return Uint8Array.from(d);
  const out = new Uint8Array(d.length * 4);
  const dv = new DataView(out.buffer);
  d.forEach((v, i) => (t.dtype === 'float32' ? dv.setFloat32(i * 4, v, true) : dv.setInt32(i * 4, v, true)));
  return out;
}

const bits = (t: Tensor) => Array.from(new Uint8Array(t.data().buffer.slice(0)));

// ----- tests ---------------------------------------------------------------------------------------

describe('save / load', () => {
  it('a file of tensors reads back bit-exact; the header follows the format', async () => {
    const f32 = k.tensor(new Float32Array([NaN, -0, 0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, -1.5, Math.PI]), { shape: [3, 3] });
    const i32 = k.tensor(new Int32Array([-2147483648, 2147483647, 0, -1, 7]));
    const b = k.tensor([true, false, true]);
    const empty = k.zeros([0, 4]);
    const scalar = k.tensor(2.5);
    const obj = { f32, i32, b, empty, scalar };
    const path = join(dir, 'tensors.safetensors');
    await k.save(obj, path);
    const file = new Uint8Array(readFileSync(path));
    const { header, data } = validate(file);
    expect(header.f32).toMatchObject({ dtype: 'F32', shape: [3, 3] });
    expect(header.i32).toMatchObject({ dtype: 'I32', shape: [5] });
    expect(header.b).toMatchObject({ dtype: 'BOOL', shape: [3] });
    expect(header.empty).toMatchObject({ dtype: 'F32', shape: [0, 4] });
    expect(header.scalar).toMatchObject({ dtype: 'F32', shape: [] });
    for (const [name, t] of Object.entries(obj)) {
      const [s, e] = header[name].data_offsets;
      expect(Array.from(data.subarray(s, e)), name).toEqual(Array.from(leBytes(t)));
    }
    const back = await k.load(path);
    expect(Object.keys(back)).toEqual(Object.keys(obj));
    for (const [name, t] of Object.entries(obj)) {
      const got = back[name] as Tensor;
      expect([got.dtype, got.shape], name).toEqual([t.dtype, t.shape]);
      expect(bits(got), name).toEqual(bits(t));
    }
  });

  it('a module state dict: tensor names are the keys, loadable into a fresh module', async () => {
    k.manualSeed(1);
    const make = () => new k.nn.Sequential(new k.nn.Linear(4, 8), new k.nn.ReLU(), new k.nn.LayerNorm([8]), new k.nn.Linear(8, 2));
    const m = make();
    const bytes = await k.save(m.stateDict());
    const { header, metadata } = validate(bytes);
    expect(Object.keys(header).sort()).toEqual(Object.keys(m.stateDict()).sort());
    expect(metadata.format).toBe('pt');
    const m2 = make();
    m2.loadStateDict(await k.load(bytes));
    const x = k.randn([3, 4]);
    expect(bits(m2.forward(x))).toEqual(bits(m.forward(x)));
  });

  it('an optimizer state dict: a reloaded AdamW continues bit-exact', async () => {
    const run = (W: Tensor, opt: k.optim.AdamW, n: number) => {
      for (let i = 0; i < n; i++) { opt.zeroGrad(); W.mul(W).mul(k.arange(0, 6, 1, { dtype: 'float32' }).reshape([2, 3])).sum().backward(); opt.step(); }
    };
    k.manualSeed(2);
    const W = k.randn([2, 3], { requiresGrad: true });
    const opt = new k.optim.AdamW([W], { lr: 0.05, amsgrad: true });
    const sched = new k.optim.lrScheduler.CosineAnnealingLR(opt, 10);
    run(W, opt, 3); sched.step();
    const path = join(dir, 'checkpoint.safetensors');
    await k.save({ model: { W }, optimizer: opt.stateDict(), scheduler: sched.stateDict(), epoch: 3, note: 'mid-run', best: NaN, flags: [true, null, -0] }, path);
    validate(new Uint8Array(readFileSync(path)));
    run(W, opt, 4);
    const want = bits(W);
    const ck = await k.load(path);
    expect([ck.epoch, ck.note, ck.best, ck.flags]).toEqual([3, 'mid-run', NaN, [true, null, -0]]);
    expect(Object.is(ck.flags[2], -0)).toBe(true);
    const W2 = (ck.model.W as Tensor).detach().requiresGrad_(true);
    const opt2 = new k.optim.AdamW([W2], { lr: 1 });
    opt2.loadStateDict(ck.optimizer);
    const sched2 = new k.optim.lrScheduler.CosineAnnealingLR(opt2, 10);
    sched2.loadStateDict(ck.scheduler);
    expect(opt2.paramGroups[0].lr).toBe(opt.paramGroups[0].lr === 0 ? 0 : sched.getLastLr()[0]);
    run(W2, opt2, 4);
    expect(bits(W2)).toEqual(want);
  });

  it('bytes, ArrayBuffer and Blob in; the same tensor twice stays one tensor', async () => {
    const t = k.tensor([1, 2, 3]);
    const bytes = await k.save({ a: t, b: [t, { c: t }] });
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Object.keys(validate(bytes).header)).toEqual(['a']);
    for (const src of [bytes, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), await k.saveBlob({ a: t, b: [t, { c: t }] })]) {
      const back = await k.load(src as Uint8Array);
      expect(back.b[0]).toBe(back.a);
      expect(back.b[1].c).toBe(back.a);
      expect(Array.from(back.a.data())).toEqual([1, 2, 3]);
    }
    const lone = await k.load(await k.save(k.tensor([[5]])));
    expect(lone.toArray()).toEqual([[5]]);
  });

  it('keys that look like paths or like the format\'s own names do not collide', async () => {
    const obj = { 'a.b': k.tensor([1]), a: { b: k.tensor([2]) }, __metadata__: k.tensor([3]), t: { t: 1 }, o: { v: 2 } };
    const bytes = await k.save(obj);
    validate(bytes);
    const back = await k.load(bytes);
    expect([back['a.b'].item(), back.a.b.item(), back.__metadata__.item(), back.t.t, back.o.v]).toEqual([1, 2, 3, 1, 2]);
  });

  it('reads foreign safetensors files: F16, BF16, F64, I64, U8 convert to kiln dtypes', async () => {
    const enc = (header: object, data: number[]) => {
      let json = JSON.stringify(header);
      while ((8 + json.length) % 8) json += ' ';
      const out = new Uint8Array(8 + json.length + data.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(new TextEncoder().encode(json), 8);
      out.set(data, 8 + json.length);
      return out;
    };
    // F16 1.0 = 0x3c00, -2.0 = 0xc000; BF16 1.0 = 0x3f80; F64 0.1; I64 -3; U8 200
    const f64 = new Uint8Array(new Float64Array([0.1]).buffer);
    const i64 = new Uint8Array(new BigInt64Array([-3n]).buffer);
    const bytes = enc({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, bf: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] },
      d: { dtype: 'F64', shape: [1], data_offsets: [6, 14] }, l: { dtype: 'I64', shape: [1], data_offsets: [14, 22] }, u: { dtype: 'U8', shape: [1], data_offsets: [22, 23] },
    }, [0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, ...f64, ...i64, 200]);
    const back = await k.load(bytes);
    expect(Array.from(back.h.data())).toEqual([1, -2]);
    expect(back.bf.item()).toBe(1);
    expect(back.d.item()).toBe(Math.fround(0.1));
    expect([back.l.dtype, back.l.item(), back.u.item()]).toEqual(['int32', -3, 200]);
    const big = enc({ l: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, [...new Uint8Array(new BigInt64Array([1n << 40n]).buffer)]);
    await expect(k.load(big)).rejects.toThrow(/load: tensor l \(I64\) holds 1099511627776, outside the int32 range/);
  });

  it('tensors on every backend save; load places them on the requested backend', async () => {
    for (const b of BACKENDS.filter((x) => x.available)) {
      const t = k.tensor([1.5, -2, 3], { backend: b.name });
      const back = await k.load(await k.save({ t }), { backend: b.name });
      expect(back.t.backend).toBe(b.name);
      expect(Array.from(await back.t.dataAsync())).toEqual([1.5, -2, 3]);
    }
  });

  it('rejects files that break the rules, and values it cannot save', async () => {
    const good = await k.save({ x: k.tensor([1, 2]) });
    const n = Number(new DataView(good.buffer).getBigUint64(0, true));
    const withHeader = (h: string, extra = good.subarray(8 + n)) => {
      const json = new TextEncoder().encode(h);
      const out = new Uint8Array(8 + json.length + extra.length);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8); out.set(extra, 8 + json.length);
      return out;
    };
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, 5), /too short/],
      [good.subarray(0, 20), /runs past the end/],
      [withHeader('[1]'), /does not start with \{/],
      [withHeader('{"x": '), /not valid JSON/],
      [withHeader('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}'), /needs 8 bytes, its offsets span 4/],
      [withHeader('{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'), /starts at byte 4, expected 0/],
      [withHeader('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'), /cover 4 bytes of data, the file has 8/],
      [withHeader('{"x":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}'), /dtype C64, which kiln cannot read/],
      [withHeader('{"__metadata__":{"a":1}}', new Uint8Array(0)), /__metadata__ must map strings to strings/],
      [withHeader('{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}'), /invalid shape/],
    ];
    const bad = new Uint8Array(good); bad[9] = 0xff; // an invalid UTF-8 byte in the header
    cases.push([bad, /not valid UTF-8/]);
    for (const [bytes, msg] of cases) await expect(k.load(bytes), String(msg)).rejects.toThrow(msg);
    await expect(k.load(good.subarray(0, 5))).rejects.toBeInstanceOf(k.KilnError);
    await expect(k.save({ m: new Map() } as never)).rejects.toThrow('save: cannot save the Map at m');
    const cyc: Record<string, unknown> = {}; cyc.self = cyc;
    await expect(k.save(cyc as never)).rejects.toThrow('save: the object at self contains itself');
    await expect(k.save({ f: () => 1 } as never)).rejects.toThrow('save: cannot save the function at f');
    await expect(k.load(42 as never)).rejects.toThrow('load: expected a path, bytes (Uint8Array), an ArrayBuffer or a Blob, got number');
    await expect(k.load(join(dir, 'missing.safetensors'))).rejects.toThrow(/ENOENT/);
    writeFileSync(join(dir, 'garbage.bin'), 'not a file');
    await expect(k.load(join(dir, 'garbage.bin'))).rejects.toThrow(/not a valid safetensors file/);
  });

  it('node:fs is imported lazily (the module bundles for browsers)', () => {
    const src = readFileSync(new URL('../../src/io/save.ts', import.meta.url), 'utf8');
    expect(src).not.toMatch(/^import .* from 'node:/m);
    expect(src).toMatch(/await import\('node:fs\/promises'\)/);
  });
});
