// The suite's timeouts, in one place: `npm test`, a targeted `npx vitest run FILE` and the child
// vitest of test/wasm/fma.test.ts all get them. The machine the suite runs on is often shared and
// loaded, and kernel-heavy files compile hundreds of modules, so the defaults (5 s) are too short.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Kernels are built to WebAssembly on first use, so each test checks the wasm kernels themselves
    // (by default a small kernel's first run is on the JS tier), and without the disk cache of kernel
    // modules, so each builds them (and the suite's thousands of test kernels stay out of the
    // developer's cache). test/wasm/kernel-disk-cache.test.ts checks both with folders of its own.
    env: { KILN_WASM_JS_RUNS: '0', KILN_CACHE: '0' },
  },
});
