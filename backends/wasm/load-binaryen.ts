// wasm backend: how binaryen is loaded. Its npm build is one 15 MB ES module (the compiler as
// embedded wasm plus its JS glue, ending in a top-level await). Imported as a module in Node, it goes
// through whatever loader hooks the process has: tsx parses and source-maps all of it (15-45 s and
// ~600 MB RSS, against ~1-2 s and ~120 MB natively). So in Node kiln reads the file and evaluates it
// as a script (node:vm), which no module loader sees, after rewriting its three module-only
// constructs: `import.meta.url`, dynamic `import(` and the final `export { x as default }`. If the
// file does not have that shape (another binaryen build), it is imported as a module after all.
// The wasm it embeds as a 14.6 MB string literal is decoded by embedded-wasm.ts rather than parsed.
// Browsers (and bundles) import it as a module: no loader hooks there.
import type { Binaryen } from './emit.js';
import { splitEmbeddedWasm } from './embedded-wasm.js';

/** How binaryen was loaded (tests check that Node takes the script path). */
export let binaryenLoadedBy: 'script' | 'module' | null = null;
/** Whether the script path decoded binaryen's embedded wasm itself (tests check it does). */
export let binaryenWasmDecoded = false;

let loading: Promise<Binaryen> | null = null;

/** binaryen, loaded once per process. */
export function loadBinaryen(): Promise<Binaryen> {
  return (loading ??= load().catch((e: unknown) => {
    loading = null; // a later call may retry (e.g. after a transient read error)
    throw e;
  }));
}

async function load(): Promise<Binaryen> {
  if (typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string') {
    // Any failure of the script path leaves the module import to load it (or to report why not).
    const b = await loadAsScript().catch(() => null);
    if (b) {
      binaryenLoadedBy = 'script';
      return b;
    }
  }
  const b = (await import('binaryen')).default as unknown as Binaryen;
  binaryenLoadedBy = 'module';
  return b;
}

/** The module-only syntax of binaryen's build and what replaces it in a script. */
const MODULE_SYNTAX = /import\.meta\.url|import\(|export\s*\{\s*([\w$]+)\s+as\s+default\s*\}\s*;?\s*$/g;

/** What stands for binaryen's embedded wasm in the script (the decoded bytes, a parameter). */
const WASM_PARAMETER = '__kilnWasm';

/**
 * binaryen's module text as the body of an async function `(__kilnUrl, __kilnImport, __kilnWasm) => binaryen`,
 * or null when the text is not the shape this rewrite knows (exactly one default export, at the end;
 * no other import or export).
 */
export function binaryenAsScript(text: string): string | null {
  let exports = 0;
  const body = text.replace(MODULE_SYNTAX, (match: string, name?: string) => {
    if (name !== undefined) { exports++; return `return ${name};`; }
    return match === 'import(' ? '__kilnImport(' : '__kilnUrl';
  });
  if (exports !== 1 || /\bimport\.meta\b|^\s*(?:import|export)\b[\s{*]/m.test(body)) return null;
  return `(async function (__kilnUrl, __kilnImport, ${WASM_PARAMETER}) {'use strict';\n${body}\n})`;
}

type NodeBuiltins = {
  v8: typeof import('node:v8');
  fs: typeof import('node:fs');
  module: typeof import('node:module');
  url: typeof import('node:url');
  vm: typeof import('node:vm');
};

/** Node's modules through process.getBuiltinModule (Node >= 20.16): no import for a bundler to see. */
function nodeBuiltins(): NodeBuiltins | null {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (!get) return null;
  return { v8: get('node:v8'), fs: get('node:fs'), module: get('node:module'), url: get('node:url'), vm: get('node:vm') } as NodeBuiltins;
}

let flagsV8: NodeBuiltins['v8'] | null | undefined;

/**
 * Runs `f`, which calls into binaryen, with V8's wasm tier-up off (Node; elsewhere, or where flags
 * are frozen, it just runs `f`).
 * NOTE: V8 recompiles a wasm function that has run a while with its optimising compiler, in the
 * background. For binaryen, whose functions run briefly for each kernel, that work does not pay: in
 * a small GPT's first steps it took ~1.5 s of CPU and ~55 MB of RSS (peak ~315 MB against ~258 MB
 * under tsx), and the kernel builds themselves were slower while it ran. V8 checks the flag when a
 * function is due for tier-up, so every call into binaryen (loading it, kernel builds) runs inside
 * this; kernel modules themselves are compiled straight to optimised code (v8flags.ts).
 */
export function withBinaryenTiering<T>(f: () => T): T {
  if (flagsV8 === undefined) flagsV8 = nodeBuiltins()?.v8 ?? null;
  const off = flagsV8 !== null && setFlag(flagsV8, '--no-wasm-tier-up');
  try {
    return f();
  } finally {
    if (off) setFlag(flagsV8!, '--wasm-tier-up');
  }
}

/** Node: binaryen evaluated as a script (see the top of this file); null if that does not apply. */
async function loadAsScript(): Promise<Binaryen | null> {
  const node = nodeBuiltins();
  if (!node) return null;
  let file: string;
  try {
    file = node.module.createRequire(import.meta.url).resolve('binaryen');
  } catch {
    return null; // not resolvable by path (e.g. a bundle): the module import reports what is wrong
  }
  const { script, wasm } = readAsScript(node, file);
  if (!script) return null;
  const factory = node.vm.runInThisContext(script, { filename: file }) as
    (url: string, load: (s: string) => Promise<unknown>, wasm: Uint8Array | undefined) => Promise<Binaryen>;
  // Tier-up off while binaryen initialises too (withBinaryenTiering; this spans its asynchronous
  // instantiation, so other wasm that runs meanwhile does not tier up either, until it runs again).
  const noTierUp = setFlag(node.v8, '--no-wasm-tier-up');
  try {
    const b = await factory(node.url.pathToFileURL(file).href, (s) => import(s), wasm);
    if (typeof b?.Module !== 'function') return null;
    binaryenWasmDecoded = wasm !== undefined;
    return b;
  } finally {
    if (noTierUp) setFlag(node.v8, '--wasm-tier-up');
  }
}

/** The build as a script, its embedded wasm taken out and decoded where the build has that shape. */
function readAsScript(node: NodeBuiltins, file: string): { script: string | null; wasm: Uint8Array | undefined } {
  const bytes = node.fs.readFileSync(file);
  const split = splitEmbeddedWasm(bytes, WASM_PARAMETER);
  if (split) return { script: binaryenAsScript(split.glue), wasm: split.wasm };
  return { script: binaryenAsScript(new TextDecoder().decode(bytes)), wasm: undefined };
}

/** Sets a V8 flag; false where this host refuses flags. */
function setFlag(v8: NodeBuiltins['v8'], flag: string): boolean {
  try {
    v8.setFlagsFromString(flag);
    return true;
  } catch {
    return false; // flags frozen in this host
  }
}
