// Training loops written as in PyTorch (no tidy(), no dispose()) keep live bytes and the wasm heap
// bounded, synchronously and with an await per step, and compute exactly what the tidy() run does.
// The bound: live bytes peak below retained + 4·max(retained, collectAfterBytes) + 2 steps' allocation
// (the reclamation trigger, see src/memory.ts), and the heap below 2x that (geometric growth).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { gptLoop, mlpLoop, type Loop } from './models.js';
import { FULL, steps } from './scale.js';

const COLLECT_AFTER = 16 * 2 ** 20;
let saved: Required<k.MemoryOptions>;
beforeAll(async () => {
  await k.ready();
  saved = k.configureMemory({ collectAfterBytes: COLLECT_AFTER });
});
afterAll(() => { k.configureMemory(saved); });

const heapBytes = () => k.memory().backends.wasm!.heapBytes;

interface Run { losses: number[]; peakLive: number; peakHeap: number; retained: number; stepBytes: number; totalBytes: number }

/** Runs `n` steps; `mode` says how memory is handled; losses are read every `every` steps. */
async function run(make: () => Loop, n: number, mode: 'plain' | 'await' | 'tidy', every = 1): Promise<Run> {
  k.releaseMemory(); // starts each run from a compacted heap and a fresh high-water mark
  const loop = make();
  const losses: number[] = [];
  const retained = k.memory().numBytes; // parameters, optimizer state, data
  const total0 = k.memory().totalAllocatedBytes;
  let peakLive = 0, peakHeap = 0, stepBytes = 0;
  for (let i = 0; i < n; i++) {
    const before = k.memory().totalAllocatedBytes;
    const loss = mode === 'tidy' ? k.tidy(() => loop.step()) : loop.step();
    stepBytes = Math.max(stepBytes, k.memory().totalAllocatedBytes - before);
    if (i % every === 0 || i === n - 1) losses.push(loss.item() as number);
    if (mode === 'await') await new Promise((r) => setTimeout(r, 0));
    peakLive = Math.max(peakLive, k.memory().numBytes);
    peakHeap = Math.max(peakHeap, heapBytes());
  }
  return { losses, peakLive, peakHeap, retained, stepBytes, totalBytes: k.memory().totalAllocatedBytes - total0 };
}

function expectBounded(r: Run, n: number): void {
  const bound = r.retained + 4 * Math.max(r.retained, COLLECT_AFTER) + 2 * r.stepBytes;
  // Report the figures (the README quotes them from the full run).
  console.log(`[memory] ${n} steps: step allocates ${(r.stepBytes / 2 ** 20).toFixed(2)} MiB, retained ${(r.retained / 2 ** 20).toFixed(2)} MiB, ` +
    `peak live ${(r.peakLive / 2 ** 20).toFixed(1)} MiB (bound ${(bound / 2 ** 20).toFixed(1)}), peak heap ${(r.peakHeap / 2 ** 20).toFixed(1)} MiB`);
  expect(r.peakLive).toBeLessThanOrEqual(bound);
  expect(r.peakHeap).toBeLessThanOrEqual(2 * bound + 16 * 2 ** 20);
  // The loop allocated well over what the bound lets live: without reclamation it would have passed it.
  expect(r.totalBytes).toBeGreaterThan(2 * (bound - r.retained));
}

describe.skipIf(!k.memory().reclamation.synchronous && !('process' in globalThis))('eager loops without tidy()', () => {
  const gptSteps = steps(16, 2000), mlpSteps = steps(600, 10_000);
  const gpt = () => gptLoop('wasm', { batch: FULL ? 8 : 4 });

  it(`GPT-style loop (embedding, attention, MLP, AdamW), ${gptSteps} synchronous steps and with an await per step`, { timeout: FULL ? 7_200_000 : 600_000 }, async () => {
    const every = FULL ? 50 : 1;
    const plain = await run(gpt, gptSteps, 'plain', every);
    expectBounded(plain, gptSteps);
    const awaited = await run(gpt, FULL ? 500 : gptSteps, 'await', every);
    expectBounded(awaited, FULL ? 500 : gptSteps);
    const tidied = await run(gpt, gptSteps, 'tidy', every);
    expect(plain.losses).toEqual(tidied.losses);
    expect(awaited.losses).toEqual(tidied.losses.slice(0, awaited.losses.length));
    expect(plain.losses.at(-1)!).toBeLessThan(plain.losses[0]);
  });

  it(`MLP with Adam, ${mlpSteps} synchronous steps`, { timeout: FULL ? 3_600_000 : 300_000 }, async () => {
    const plain = await run(mlpLoop, mlpSteps, 'plain', 100);
    expectBounded(plain, mlpSteps);
    const tidied = await run(mlpLoop, mlpSteps, 'tidy', 100);
    expect(plain.losses).toEqual(tidied.losses);
    expect(plain.losses.at(-1)!).toBeLessThan(plain.losses[0]);
  });
});
