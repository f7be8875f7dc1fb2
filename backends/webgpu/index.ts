// webgpu backend, runtime: pooled GPUBuffers, a pipeline cache keyed by generated WGSL, and a command
// encoder that batches dispatches until a read, a sync, a write or N dispatches submit it. Kernel
// numbers travel in one uniform arena per batch. Reads are asynchronous only (WebGPU maps buffers).
import type { Backend, Buffer, KernelStats } from '../../src/core/backend.js';
import type { DType, TypedArray } from '../../src/core/dtype.js';
import { typedArrayFor } from '../../src/core/dtype.js';
import type { Kernel } from '../../src/core/kernel.js';
import { outputShape, printKernel } from '../../src/core/kernel.js';
import { sizeOf } from '../../src/core/shape.js';
import { KilnError } from '../../src/core/errors.js';
import { acquireDevice, type AdapterOptions } from './adapter.js';
import { type BindingPlan, INDEX_ERROR_WORDS, kernelWgsl, renderWgsl } from './codegen.js';
import { indexError, opName } from '../../src/core/index-check.js';
import { planBindings, splitForLimit, storageLimitReason } from './plan.js';
import { BufferPool } from './pool.js';
import { KERNEL_CACHE_ENTRIES, LruMap } from '../../src/core/lru.js';

export { WebGpuUnavailableError, WEBGPU_DEPS_FIX } from './adapter.js';
export { kernelWgsl } from './codegen.js';

/** Options of the webgpu backend. */
export interface WebGpuOptions extends AdapterOptions {
  /** Dispatches recorded before the encoder is submitted without waiting for a read (default 64). */
  readonly maxBatch?: number;
  /** Bytes of freed buffers kept for reuse (default 256 MiB). */
  readonly poolLimitBytes?: number;
  /** Lowers maxComputeWorkgroupsPerDimension (tests use it to exercise 2-D/3-D grids cheaply). */
  readonly maxWorkgroupsPerDimension?: number;
}

/** The device limits the backend plans around. */
export interface WebGpuLimits {
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
}

/** The webgpu backend: the Backend interface plus introspection and teardown. */
export interface WebGpuBackend extends Backend {
  readonly name: 'webgpu';
  /** The adapter in words, e.g. "google swiftshader SwiftShader driver 5.0.0". */
  readonly adapterDescription: string;
  readonly limits: WebGpuLimits;
  readonly device: GPUDevice;
  /** The WGSL a kernel runs as (on distinct buffers). */
  wgsl(kernel: Kernel): string;
  /** Bytes of freed buffers held for reuse. */
  pooledBytes(): number;
  /** Submits recorded work without waiting. */
  flush(): void;
  /** Releases the device; the backend is unusable afterwards. */
  destroy(): void;
}

interface GpuBuffer extends Buffer {
  readonly backend: 'webgpu';
  readonly gpu: GPUBuffer;
  /** Bytes of the GPUBuffer (its size class). */
  readonly bytes: number;
  freed: boolean;
}

interface CachedPipeline {
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

const UNIFORM_ARENA_BYTES = 256 * 1024;
const STORAGE_USAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST
const UNIFORM_USAGE = 0x40 | 0x8; // UNIFORM | COPY_DST
const MAP_READ_USAGE = 0x1 | 0x8; // MAP_READ | COPY_DST

/** Creates the webgpu backend on the best adapter this host offers (Dawn + SwiftShader in headless Node). */
export async function createWebGpuBackend(opts: WebGpuOptions = {}): Promise<WebGpuBackend> {
  const ctx = await acquireDevice(opts);
  const { device } = ctx;
  let gpuRef: GPU | null = ctx.gpu; // dawn.node lives as long as this reference
  const L = device.limits;
  const limits: WebGpuLimits = {
    maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
    maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
    maxBufferSize: L.maxBufferSize,
    maxComputeWorkgroupsPerDimension: Math.min(L.maxComputeWorkgroupsPerDimension, opts.maxWorkgroupsPerDimension ?? Infinity),
    maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
  };
  const workgroupSize = Math.min(256, 2 ** Math.floor(Math.log2(L.maxComputeInvocationsPerWorkgroup)));
  const maxBatch = opts.maxBatch ?? 64;
  const maxBinding = Math.min(L.maxStorageBufferBindingSize, L.maxBufferSize);
  const maxGridDim = Math.min(L.maxComputeWorkgroupsPerDimension, opts.maxWorkgroupsPerDimension ?? Infinity);

  // --- errors: device loss, uncaptured errors and error scopes end up here, thrown at the next read/sync.
  let destroyed = false;
  let lostError: KilnError | null = null;
  let firstError: KilnError | null = null;
  const scopes = new Set<Promise<void>>(); // error scopes not yet settled
  const record = (e: KilnError): void => { firstError ??= e; };
  const lost = device.lost.then((info) => {
    if (destroyed && info.reason === 'destroyed') return;
    lostError = new KilnError(`webgpu: device lost (${info.reason}): ${info.message || 'no message'}; create a new backend`);
  });
  device.addEventListener('uncapturederror', (ev) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    record(new KilnError(`webgpu: uncaptured ${err.constructor?.name ?? 'error'}: ${err.message}`));
  });
  /** Pops `n` error scopes pushed before a device call, recording what they caught. */
  const popScopes = (n: number, what: () => string): void => {
    for (let i = 0; i < n; i++) {
      const p: Promise<void> = device.popErrorScope().then((e) => {
        if (e) record(new KilnError(`webgpu: ${e.constructor?.name ?? 'error'} while ${what()}: ${e.message}`));
      }, () => undefined).finally(() => scopes.delete(p));
      scopes.add(p);
    }
  };
  const alive = (): void => {
    if (destroyed) throw new KilnError('webgpu: the backend was destroyed');
    if (lostError) throw lostError;
  };
  /** Settles outstanding error scopes; throws the first error seen (once). */
  const checkErrors = async (): Promise<void> => {
    while (scopes.size) await Promise.all([...scopes]);
    if (lostError) throw lostError;
    if (firstError) { const e = firstError; firstError = null; throw e; }
  };
  /** Waits for `p` unless the device is lost first. */
  const orLost = <T>(p: Promise<T>): Promise<T> =>
    Promise.race([p, lost.then(() => new Promise<never>((_, reject) => { if (lostError) reject(lostError); }))]);

  // --- memory
  const pool = new BufferPool((bytes) => {
    device.pushErrorScope('out-of-memory');
    const b = device.createBuffer({ size: bytes, usage: STORAGE_USAGE });
    popScopes(1, () => `allocating a ${bytes}-byte buffer`);
    return b;
  }, opts.poolLimitBytes ?? 256 * 1024 * 1024, maxBinding);
  let liveBytes = 0;
  const toDestroy: GPUBuffer[] = [];

  // --- batching: one encoder, one uniform arena per batch
  let encoder: GPUCommandEncoder | null = null;
  let pending = 0;
  const arena = device.createBuffer({ size: UNIFORM_ARENA_BYTES, usage: UNIFORM_USAGE });
  const arenaData = new Uint8Array(UNIFORM_ARENA_BYTES);
  let arenaUsed = 0;
  const align = L.minUniformBufferOffsetAlignment;
  const enc = (): GPUCommandEncoder => (encoder ??= device.createCommandEncoder());

  const flush = (): void => {
    if (encoder) {
      if (arenaUsed) device.queue.writeBuffer(arena, 0, arenaData, 0, arenaUsed);
      const n = pending;
      device.pushErrorScope('validation');
      device.pushErrorScope('out-of-memory');
      device.queue.submit([encoder.finish()]);
      popScopes(2, () => `submitting ${n} dispatches`);
      encoder = null;
      pending = 0;
      arenaUsed = 0;
    }
    // Safe now: nothing unsubmitted refers to them, and submitted work keeps them until it is done.
    for (const b of toDestroy.splice(0)) b.destroy();
  };
  const count = (): void => { if (++pending >= maxBatch) flush(); };

  /** Places a dispatch's uniform words in the arena, submitting the batch first when it is full. */
  const uniformOffset = (params: Uint32Array): number => {
    if (params.byteLength > L.maxUniformBufferBindingSize) {
      throw new KilnError(`webgpu: kernel needs ${params.byteLength} bytes of parameters, more than maxUniformBufferBindingSize (${L.maxUniformBufferBindingSize})`);
    }
    let off = Math.ceil(arenaUsed / align) * align;
    if (off + params.byteLength > UNIFORM_ARENA_BYTES) { flush(); off = 0; }
    arenaData.set(new Uint8Array(params.buffer, params.byteOffset, params.byteLength), off);
    arenaUsed = off + params.byteLength;
    return off;
  };

  // --- index errors: kernels that gather record the first bad index here (wgsl-ops.ts k_ix); it is
  // read back with the next read or sync(), which raise it (WebGPU has no synchronous readback).
  const errBuf = device.createBuffer({ size: INDEX_ERROR_WORDS * 4, usage: STORAGE_USAGE });
  /** Some dispatch since the last check bound errBuf. */
  let errPending = false;
  /** Raises the index error the words of errBuf hold, if any (and clears the buffer). */
  const raiseIndexError = (w: Uint32Array): void => {
    if (w[0] === 0) return;
    device.queue.writeBuffer(errBuf, 0, new Uint32Array(INDEX_ERROR_WORDS));
    throw indexError({ op: opName(w[2]), axis: w[3], size: w[4] }, w[1] | 0);
  };
  /** Reads errBuf back (when a checking kernel ran since the last time) and raises what it holds. */
  const checkIndexErrors = async (): Promise<void> => {
    if (!errPending) return;
    const staging = device.createBuffer({ size: INDEX_ERROR_WORDS * 4, usage: MAP_READ_USAGE });
    enc().copyBufferToBuffer(errBuf, 0, staging, 0, INDEX_ERROR_WORDS * 4);
    flush();
    errPending = false;
    await orLost(staging.mapAsync(GPUMapMode.READ));
    const words = new Uint32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    raiseIndexError(words);
  };

  // --- pipelines
  const pipelines = new LruMap<string, CachedPipeline>(KERNEL_CACHE_ENTRIES);
  const layouts = new Map<string, GPUBindGroupLayout>();
  const stats: KernelStats = { compiled: 0, cacheHits: 0, compileMs: 0 };
  const layoutFor = (plan: BindingPlan, checks: boolean): GPUBindGroupLayout => {
    const key = plan.slots.map((s) => (s.write ? 'w' : 'r')).join('') + (checks ? 'e' : '');
    let layout = layouts.get(key);
    if (!layout) {
      layout = device.createBindGroupLayout({
        entries: [
          { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
          ...plan.slots.map((s, i): GPUBindGroupLayoutEntry => ({
            binding: i + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: s.write ? 'storage' : 'read-only-storage' },
          })),
          ...(checks ? [{ binding: plan.slots.length + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } } satisfies GPUBindGroupLayoutEntry] : []),
        ],
      });
      layouts.set(key, layout);
    }
    return layout;
  };
  const pipelineFor = (source: string, plan: BindingPlan, kernel: Kernel, checks: boolean): CachedPipeline => {
    const hit = pipelines.get(source);
    if (hit) { stats.cacheHits++; return hit; }
    const t0 = performance.now();
    const layout = layoutFor(plan, checks);
    device.pushErrorScope('validation');
    device.pushErrorScope('internal');
    const module = device.createShaderModule({ code: source });
    const pipeline = device.createComputePipeline({
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    popScopes(2, () => `compiling the WGSL of kernel\n${printKernel(kernel)}\n--- WGSL ---\n${source}`);
    stats.compileMs += performance.now() - t0;
    stats.compiled++;
    const entry = { pipeline, layout };
    pipelines.set(source, entry);
    return entry;
  };

  /** A linear workgroup count as a 1-D, 2-D or 3-D grid within maxComputeWorkgroupsPerDimension. */
  const grid = (n: number): [number, number, number] => {
    const max = maxGridDim;
    const x = Math.min(n, max);
    const rest = Math.ceil(n / x);
    const y = Math.min(rest, max);
    const z = Math.ceil(rest / y);
    if (z > max) throw new KilnError(`webgpu: ${n} workgroups exceed a ${max}^3 dispatch grid`);
    return [x, y, z];
  };

  const live = (b: Buffer, what: string): GpuBuffer => {
    const g = b as GpuBuffer;
    if (g.backend !== 'webgpu' || !g.gpu) throw new KilnError(`webgpu: ${what} is a ${g.backend} buffer, not a webgpu one`);
    if (g.freed) throw new KilnError(`webgpu: ${what} was freed`);
    return g;
  };

  const dispatch = (kernel: Kernel, inputs: readonly GpuBuffer[], outputs: readonly GpuBuffer[]): void => {
    const { plan, buffers } = planBindings(kernel, inputs, outputs);
    const prog = renderWgsl(kernel, plan, { workgroupSize });
    if (prog.workgroups === 0) return;
    const { pipeline, layout } = pipelineFor(prog.source, plan, kernel, prog.checksIndices);
    if (prog.checksIndices) errPending = true;
    const offset = uniformOffset(prog.params);
    const bindGroup = device.createBindGroup({
      layout,
      entries: [
        { binding: 0, resource: { buffer: arena, offset, size: prog.params.byteLength } },
        ...buffers.map((b, i) => ({ binding: i + 1, resource: { buffer: b as GPUBuffer } })),
        ...(prog.checksIndices ? [{ binding: buffers.length + 1, resource: { buffer: errBuf } }] : []),
      ],
    });
    const pass = enc().beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...grid(prog.workgroups));
    pass.end();
    count();
  };

  const backend: WebGpuBackend = {
    name: 'webgpu',
    syncReads: false,
    adapterDescription: ctx.description,
    limits,
    device,

    alloc(dtype: DType, size: number, zeroed = true): Buffer {
      alive();
      if (!Number.isInteger(size) || size < 0) throw new KilnError(`webgpu: cannot allocate ${size} elements`);
      const need = size * 4; // bool is stored as u32
      if (need > maxBinding) {
        throw new KilnError(`webgpu: a ${dtype} buffer of ${size} elements needs ${need} bytes, more than this device's ` +
          `maxStorageBufferBindingSize (${maxBinding} bytes); split the tensor or use the wasm/cpu backend`);
      }
      const { buffer, bytes, reused } = pool.acquire(Math.max(4, need));
      if (reused && zeroed) { enc().clearBuffer(buffer); count(); } // alloc promises zeros; fresh buffers already are
      liveBytes += bytes;
      const b: GpuBuffer = { backend: 'webgpu', dtype, size, gpu: buffer, bytes, freed: false };
      return b;
    },

    free(b: Buffer): void {
      const g = b as GpuBuffer;
      if (g.freed || destroyed) return;
      g.freed = true;
      liveBytes -= g.bytes;
      for (const dead of pool.release(g.gpu, g.bytes)) toDestroy.push(dead);
      if (!encoder) flush();
    },

    write(b: Buffer, data: TypedArray, offset = 0): void {
      alive();
      const g = live(b, 'write target');
      if (offset < 0 || offset + data.length > g.size) {
        throw new KilnError(`webgpu: writing ${data.length} elements at ${offset} overflows a buffer of ${g.size}`);
      }
      if (data.length === 0) return;
      // Recorded dispatches must see the buffer as it was: submit them before the queue write.
      if (encoder) flush();
      const words = g.dtype === 'float32' ? (data instanceof Float32Array ? data : Float32Array.from(data))
        : g.dtype === 'int32' ? (data instanceof Int32Array ? data : Int32Array.from(data))
          : Uint32Array.from(data);
      device.queue.writeBuffer(g.gpu, offset * 4, words.buffer, words.byteOffset, words.byteLength);
    },

    read(): TypedArray {
      throw new KilnError('webgpu: synchronous reads are not possible (WebGPU maps buffers asynchronously); ' +
        'use `await backend.readAsync(buf)`, or at the tensor level `await t.dataAsync()`');
    },

    async readAsync(b: Buffer, offset = 0, size?: number): Promise<TypedArray> {
      alive();
      const g = live(b, 'read source');
      const n = size ?? g.size - offset;
      if (offset < 0 || n < 0 || offset + n > g.size) throw new KilnError(`webgpu: reading ${n} elements at ${offset} from a buffer of ${g.size}`);
      if (n === 0) { flush(); await checkErrors(); await checkIndexErrors(); return typedArrayFor(g.dtype, 0); }
      // The index-error words ride along when a checking kernel ran: a bad index raises at this read.
      const withErr = errPending;
      const bytes = n * 4 + (withErr ? INDEX_ERROR_WORDS * 4 : 0);
      const staging = device.createBuffer({ size: bytes, usage: MAP_READ_USAGE });
      enc().copyBufferToBuffer(g.gpu, offset * 4, staging, 0, n * 4);
      if (withErr) enc().copyBufferToBuffer(errBuf, 0, staging, n * 4, INDEX_ERROR_WORDS * 4);
      errPending = false;
      flush();
      try {
        await orLost(staging.mapAsync(GPUMapMode.READ));
      } catch (e) {
        await checkErrors(); // a recorded error explains a failed map better than the map does
        throw lostError ?? new KilnError(`webgpu: reading a buffer failed: ${(e as Error).message}`);
      }
      const all = staging.getMappedRange().slice(0);
      staging.unmap();
      staging.destroy();
      await checkErrors();
      if (withErr) raiseIndexError(new Uint32Array(all, n * 4, INDEX_ERROR_WORDS));
      const raw = withErr ? all.slice(0, n * 4) : all;
      if (g.dtype === 'float32') return new Float32Array(raw);
      if (g.dtype === 'int32') return new Int32Array(raw);
      return Uint8Array.from(new Uint32Array(raw)); // bool: u32 words -> 0/1 bytes
    },

    run(kernel: Kernel, inputs: readonly Buffer[], outputs: readonly Buffer[]): void {
      alive();
      if (inputs.length < kernel.nInputs) throw new KilnError(`webgpu: kernel takes ${kernel.nInputs} inputs, got ${inputs.length}`);
      const ins = inputs.map((b, i) => live(b, `input ${i}`));
      const outs = outputs.map((b, i) => {
        const g = live(b, `output ${i}`);
        const o = kernel.outputs[i];
        if (!o) throw new KilnError(`webgpu: ${kernel.kind} kernel has no output ${i}`);
        const need = sizeOf(outputShape(kernel, i));
        if (!o.view && g.size < need) throw new KilnError(`webgpu: output ${i} holds ${g.size} elements, the kernel writes ${need}`);
        return g;
      });
      for (const part of splitForLimit(kernel, ins, outs, L.maxStorageBuffersPerShaderStage)) {
        dispatch(part.kernel, ins, part.outputs.map((i) => outs[i]));
      }
    },

    unsupported(kernel: Kernel): string | null {
      return storageLimitReason(kernel, L.maxStorageBuffersPerShaderStage);
    },

    stats: () => ({ ...stats }),
    allocatedBytes: () => liveBytes,
    pooledBytes: () => pool.pooledBytes,
    memoryInfo: () => ({ pooledBytes: pool.pooledBytes, pipelines: pipelines.size }),
    releaseMemory(): void {
      if (destroyed) return;
      flush(); // queued work may still read pooled buffers: submit it before destroying them
      for (const b of pool.drain()) b.destroy();
      pipelines.clear();
      layouts.clear();
    },

    async sync(): Promise<void> {
      alive();
      flush();
      await orLost(device.queue.onSubmittedWorkDone());
      await checkErrors();
      await checkIndexErrors();
    },

    flush,
    wgsl: (kernel: Kernel) => kernelWgsl(kernel, { workgroupSize }),
    source: (kernel: Kernel) => kernelWgsl(kernel, { workgroupSize }),

    destroy(): void {
      if (destroyed) return;
      try { flush(); } catch { /* the device may already be gone */ }
      destroyed = true;
      for (const b of pool.drain()) b.destroy();
      device.destroy();
      gpuRef = null;
    },
  };
  return backend;
}
