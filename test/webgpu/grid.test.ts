// More workgroups than one grid dimension holds (webgpu only): rows of a reduction and tiles of a
// matmul spread over a 3-D grid. A backend with a small per-dimension limit stands in for the real
// 65535 (a workgroup per row past that is slow on SwiftShader); runtime.test.ts checks the real limit.
import { afterAll, describe, it } from 'vitest';
import { sizeOf } from '../../src/core/shape.js';
import { SERIAL_ROW_MAX } from '../../backends/webgpu/codegen.js';
import { acc, check, host, ld, matmul, random, red, startWebGpu, view } from '../kernels/helpers.js';

const { gpu, reason } = await startWebGpu('grid.test.ts', { maxWorkgroupsPerDimension: 16 });
const { gpu: gpu8 } = gpu ? await startWebGpu('grid.test.ts', { maxWorkgroupsPerDimension: 8 }) : { gpu: null };
afterAll(() => { gpu?.destroy(); gpu8?.destroy(); });

describe.skipIf(!gpu)(`webgpu grids ${gpu ? '' : `(skipped: ${reason})`}`, () => {
  it('more rows than one grid dimension holds: rows spread over a 3-D grid', async () => {
    // 3000 rows -> a 16 x 16 x 12 grid
    const rows = 3000, inner = SERIAL_ROW_MAX + 1;
    const data = Int32Array.from({ length: rows * inner }, (_, i) => (i * 7919) % 13 - 6);
    await check(gpu!, red([rows], [inner], 1, [{ op: 'sum', body: ld(0, [rows, inner], 'int32') }], [{ expr: acc(0, 'int32'), scope: 'outer' }]), [data]);
    // and the thread-per-row strategy: 40000 rows of 3 -> 157 workgroups of 256 -> 16 x 10 grid
    const data2 = Int32Array.from({ length: 40000 * 3 }, (_, i) => (i * 31) % 7);
    await check(gpu!, red([40000], [3], 1, [{ op: 'argmax', body: ld(0, [40000, 3], 'int32') }], [{ expr: acc(0, 'int32'), scope: 'outer' }]), [host('int32', data2)]);
  });

  it('more tiles than one grid dimension holds: batches spread over a 3-D grid', async () => {
    const batch = [150], m = 70, n = 3, k = 5; // 150 x 2 tiles = 300 workgroups -> 8 x 8 x 5
    const kk = matmul(batch, m, n, k, view([...batch, m, k]), view([...batch, k, n]));
    await check(gpu8!, kk, [random('float32', sizeOf([...batch, m, k]), 6), random('float32', sizeOf([...batch, k, n]), 7)], { tol: { rtol: 1e-4, atol: 1e-4 } });
  });
});
