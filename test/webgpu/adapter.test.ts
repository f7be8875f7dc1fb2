// Start-up of the webgpu backend: what it reports when it runs, and the error it gives when it
// cannot (checked in a child process, since the Vulkan loader reads its environment once per process).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startWebGpu } from '../kernels/helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const { gpu, reason } = await startWebGpu('adapter.test.ts');
afterAll(() => gpu?.destroy());

/** Runs acquireDevice() in a fresh Node with `env`, returning what it threw (or 'OK'). */
function startIn(env: Record<string, string>): { name?: string; step?: string; message?: string } | 'OK' {
  const script = `import(${JSON.stringify(`${root}backends/webgpu/adapter.ts`)}).then((m) => m.acquireDevice())` +
    `.then(() => console.log('"OK"'), (e) => console.log(JSON.stringify({ name: e.name, step: e.step, message: e.message })))`;
  const out = execFileSync(process.execPath, [`${root}node_modules/tsx/dist/cli.mjs`, '-e', script], {
    env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000,
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}

describe('webgpu start-up', () => {
  it('a VK_ICD_FILENAMES that finds no driver fails at the adapter step and says how to fix it', () => {
    const r = startIn({ VK_ICD_FILENAMES: '/nonexistent/icd.json' });
    expect(r).not.toBe('OK');
    if (r === 'OK') return;
    expect(r.name).toBe('WebGpuUnavailableError');
    expect(r.step).toBe('adapter');
    expect(r.message).toMatch(/VK_ICD_FILENAMES=\/nonexistent\/icd\.json gave no adapter/);
  });

  it.skipIf(!gpu)(`the backend reports its adapter and limits ${gpu ? '' : `(skipped: ${reason})`}`, () => {
    expect(gpu!.name).toBe('webgpu');
    expect(gpu!.syncReads).toBe(false);
    expect(gpu!.adapterDescription.length).toBeGreaterThan(0);
    expect(gpu!.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
    expect(gpu!.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThanOrEqual(65535);
  });
});
