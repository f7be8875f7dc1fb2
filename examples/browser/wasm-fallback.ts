// Build-time hook for the browser demo. examples/browser/build.ts replaces this module's contents:
// when backends/wasm/index.ts exists and bundles, `load` lazily imports it (so the page can run the
// wasm backend even while src/index.ts does not register it yet); otherwise `load` stays null and
// `note` says why. Once src/index.ts registers 'wasm', `initBackend('wasm')` succeeds and this hook
// is not used. This file as written is what an unbundled import (tsc, tsx) sees.
import type { Backend } from '../../src/core/backend.js';

export interface WasmFallback {
  /** Creates the wasm backend straight from backends/wasm/index.ts, or null when it is not bundled. */
  readonly load: (() => Promise<Backend>) | null;
  /** Why `load` is null (empty when it is set). */
  readonly note: string;
}

export const wasmFallback: WasmFallback = {
  load: null,
  note: 'the page was not built by examples/browser/build.ts',
};
