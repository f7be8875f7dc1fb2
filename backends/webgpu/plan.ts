// webgpu backend, binding plans: which GPUBuffer each kernel input/output binds to, and how a kernel
// that needs more storage buffers than the device allows is split (one kernel per output).
import type { Kernel } from '../../src/core/kernel.js';
import type { DType } from '../../src/core/dtype.js';
import { KilnError, assertNever } from '../../src/core/errors.js';
import { type BindingPlan, checksIndices, usedInputs } from './codegen.js';
import type { Slot } from './emit.js';

/** What the planner needs to know about a bound buffer. */
export interface PlanBuffer {
  readonly dtype: DType;
  readonly gpu: object;
}

/**
 * The binding plan for buffers: each distinct buffer binds once. A buffer that is both read and
 * written (an in-place op) binds read_write and loads read it through that binding, since WebGPU
 * forbids binding one buffer as read-only and writable storage in the same dispatch.
 */
export function planBindings(k: Kernel, inputs: readonly PlanBuffer[], outputs: readonly PlanBuffer[]): { plan: BindingPlan; buffers: object[] } {
  const used = usedInputs(k);
  const slotOf = new Map<object, number>();
  const slots: { dtype: DType; write: boolean }[] = [];
  const buffers: object[] = [];
  const bind = (b: PlanBuffer, write: boolean): number => {
    let s = slotOf.get(b.gpu);
    if (s === undefined) {
      s = slots.push({ dtype: b.dtype, write }) - 1;
      slotOf.set(b.gpu, s);
      buffers.push(b.gpu);
    } else if (write) slots[s].write = true;
    return s;
  };
  const ins = Array.from({ length: k.nInputs }, (_, i) => (used.has(i) ? bind(inputs[i], false) : null));
  const outs = outputs.map((b) => bind(b, true));
  return { plan: { slots: slots as Slot[], inputs: ins, outputs: outs }, buffers };
}

/** A kernel restricted to some outputs, with the indices of the outputs it writes. */
export interface KernelPart {
  readonly kernel: Kernel;
  readonly outputs: readonly number[];
}

/** The kernel computing output i alone. */
function onlyOutput(k: Kernel, i: number): Kernel {
  switch (k.kind) {
    case 'elementwise': return { ...k, outputs: [k.outputs[i]] };
    case 'reduce': return { ...k, outputs: [k.outputs[i]] };
    case 'matmul': return k; // one output already
    default: return assertNever(k, 'kernel');
  }
}

/**
 * Splits a kernel whose binding plan exceeds `maxStorage` into one kernel per output, or throws a
 * clear error when even one output needs too many. Outputs that overwrite a buffer another part
 * reads run last, so every part reads the inputs as they were.
 */
export function splitForLimit(k: Kernel, inputs: readonly PlanBuffer[], outputs: readonly PlanBuffer[], maxStorage: number): KernelPart[] {
  const whole = planBindings(k, inputs, outputs);
  const n = k.outputs.length;
  const extra = (kernel: Kernel) => (checksIndices(kernel) ? 1 : 0); // the index-error buffer
  if (whole.plan.slots.length + extra(k) <= maxStorage) return [{ kernel: k, outputs: Array.from({ length: n }, (_, i) => i) }];
  const parts: KernelPart[] = [];
  for (let i = 0; i < n; i++) {
    const kernel = onlyOutput(k, i);
    const p = planBindings(kernel, inputs, [outputs[i]]);
    if (p.plan.slots.length + extra(kernel) > maxStorage) {
      throw new KilnError(`webgpu: a ${k.kind} kernel output needs ${p.plan.slots.length} storage buffers ` +
        `(${p.plan.slots.length - 1} inputs + 1 output) but this device allows maxStorageBuffersPerShaderStage = ${maxStorage}; ` +
        'split the computation into smaller kernels (fewer distinct input tensors per fused group)');
    }
    parts.push({ kernel, outputs: [i] });
  }
  const inputBufs = new Set(inputs.map((b) => b.gpu));
  const aliasing = (p: KernelPart): boolean => p.outputs.some((i) => inputBufs.has(outputs[i].gpu));
  return [...parts.filter((p) => !aliasing(p)), ...parts.filter(aliasing)];
}

/** Why a kernel cannot run within `maxStorage` bindings even after splitting (distinct buffers assumed), or null. */
export function storageLimitReason(k: Kernel, maxStorage: number): string | null {
  const n = k.outputs.length;
  for (let i = 0; i < n; i++) {
    const part = onlyOutput(k, i);
    const need = usedInputs(part).size + 1 + (checksIndices(part) ? 1 : 0);
    if (need > maxStorage) {
      return `webgpu: output ${i} of this ${k.kind} kernel reads ${need - 1} inputs; with its output that exceeds maxStorageBuffersPerShaderStage = ${maxStorage}`;
    }
  }
  return null;
}
