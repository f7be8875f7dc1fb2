// Which backends the eager suites run on: every backend kiln knows is tried once (top-level await);
// one that cannot start is reported as a loud skip (a describe.skip naming the reason, and a
// console.warn), never silently left out.
import { describe, it } from 'vitest';
import { initBackend, tensor } from '../../src/index.js';
import type { BackendName } from '../../src/index.js';

export interface BackendStatus {
  readonly name: BackendName;
  readonly available: boolean;
  /** Why it could not start (when unavailable). */
  readonly reason: string;
}

export const BACKEND_NAMES: readonly BackendName[] = ['cpu', 'wasm', 'webgpu'];

async function probe(name: BackendName): Promise<BackendStatus> {
  try {
    await initBackend(name);
    // A backend that loads but cannot run a kernel is as good as absent: prove one round trip.
    const t = tensor([1, 2, 3], { backend: name }).add(1);
    const got = Array.from(await t.dataAsync());
    if (got.join() !== '2,3,4') throw new Error(`smoke test [1,2,3] + 1 read back [${got.join(',')}]`);
    return { name, available: true, reason: '' };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { name, available: false, reason: msg };
  }
}

/** Every backend with its status, probed once per test file. */
export const BACKENDS: readonly BackendStatus[] = await Promise.all(BACKEND_NAMES.map(probe));

/**
 * Runs `body` inside a describe per available backend; an unavailable one becomes a skipped
 * describe named `backend <name> unavailable: <reason>`, with a warning on the console.
 */
export function forEachBackend(body: (backend: BackendName) => void, backends: readonly BackendStatus[] = BACKENDS): void {
  for (const b of backends) {
    if (!b.available) {
      console.warn(`[kiln tests] backend ${b.name} unavailable: ${b.reason}`);
      describe.skip(`backend ${b.name} unavailable: ${b.reason}`, () => {
        it('runs the suite', () => {});
      });
      continue;
    }
    describe(`backend ${b.name}`, () => body(b.name));
  }
}
