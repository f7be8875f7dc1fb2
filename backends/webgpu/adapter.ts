// webgpu backend, start-up: finds a GPUDevice. In a browser that is `navigator.gpu`; in Node it is
// Dawn from the optional `webgpu` package (loaded lazily so the core bundles for browsers), on
// SwiftShader (Debian's chromium ships its Vulkan ICD) when the machine has no GPU of its own.
import { KilnError } from '../../src/core/errors.js';

/** The one command that installs what Dawn needs on Debian/Ubuntu (see .ci/webgpu-deps.sh). */
export const WEBGPU_DEPS_FIX = 'apt-get update && apt-get install -y libvulkan1 chromium';

/** Which start-up step failed. */
export type WebGpuStartStep = 'package' | 'vulkan-loader' | 'adapter' | 'device';

/** WebGPU could not start; `step` says where and the message says how to fix it. */
export class WebGpuUnavailableError extends KilnError {
  override name = 'WebGpuUnavailableError';
  constructor(readonly step: WebGpuStartStep, message: string) {
    super(message);
  }
}

/** Options for finding an adapter. */
export interface AdapterOptions {
  readonly powerPreference?: GPUPowerPreference;
  /** Node only: use SwiftShader even when a GPU driver is present. */
  readonly forceSoftware?: boolean;
}

/** A started device with what the backend needs to know about it. */
export interface GpuContext {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  /** Human-readable adapter name, e.g. "google swiftshader". */
  readonly description: string;
  /** Keeps the Dawn instance alive as long as the backend lives (dawn.node frees it with its owner). */
  readonly gpu: GPU;
}

const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json', // Debian/Ubuntu chromium-common
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json', // Fedora
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

const VULKAN_LOADERS = [
  '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
  '/usr/lib/aarch64-linux-gnu/libvulkan.so.1',
  '/usr/lib64/libvulkan.so.1',
  '/usr/lib/libvulkan.so.1',
  '/lib/x86_64-linux-gnu/libvulkan.so.1',
];

type NodeFs = typeof import('node:fs');

/** True when this Linux machine shows a GPU device node (then Dawn should try the real driver first). */
function hasGpuDeviceNode(fs: NodeFs): boolean {
  try {
    if (fs.existsSync('/dev/nvidia0') || fs.existsSync('/dev/dxg')) return true;
    return fs.existsSync('/dev/dri') && fs.readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}

async function requestDevice(gpu: GPU, opts: AdapterOptions): Promise<GpuContext | null> {
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) return null;
  // Ask for the adapter's own limits where they matter: the defaults (128 MiB bindings, 8 storage
  // buffers) are far below what most adapters offer.
  const want = [
    'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupsPerDimension',
  ] as const;
  const requiredLimits: Record<string, number> = {};
  for (const k of want) requiredLimits[k] = adapter.limits[k];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits });
  } catch (e) {
    throw new WebGpuUnavailableError('device', `webgpu: the adapter refused to create a device: ${(e as Error).message}`);
  }
  const info = adapter.info;
  const description = [info?.vendor, info?.architecture, info?.description].filter((s) => s).join(' ') || 'unknown adapter';
  return { device, adapter, description, gpu };
}

/** Starts WebGPU in this host, or throws a WebGpuUnavailableError naming the failed step and the fix. */
export async function acquireDevice(opts: AdapterOptions = {}): Promise<GpuContext> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) {
    if (!nav?.gpu) throw new WebGpuUnavailableError('adapter', 'webgpu: this browser has no navigator.gpu (WebGPU is off or unsupported here)');
    const ctx = await requestDevice(nav.gpu, opts);
    if (!ctx) throw new WebGpuUnavailableError('adapter', 'webgpu: navigator.gpu.requestAdapter() returned null (no usable GPU)');
    return ctx;
  }

  let mod: { create(options: string[]): GPU; globals: object };
  try {
    // A computed specifier keeps browser bundlers from following this Node-only import.
    const pkg = 'webgpu';
    mod = (await import(/* @vite-ignore */ pkg)) as typeof mod;
  } catch (e) {
    throw new WebGpuUnavailableError('package',
      `webgpu: the optional 'webgpu' npm package (Dawn) could not be loaded (${(e as Error).message}); install it with \`npm install webgpu\``);
  }
  // Dawn's objects (GPUBufferUsage, GPUMapMode, ...) are expected as globals by WebGPU code.
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }

  const fsName = 'node:fs';
  const fs = (await import(/* @vite-ignore */ fsName)) as NodeFs;
  const linux = process.platform === 'linux';
  const userIcd = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;
  const swiftshader = SWIFTSHADER_ICDS.find((p) => fs.existsSync(p));
  const useSwiftShader = (): boolean => {
    if (!linux || userIcd || !swiftshader) return false;
    process.env.VK_ICD_FILENAMES = swiftshader;
    // NOTE: SwiftShader's WSI probing prints "XDG_RUNTIME_DIR is invalid" on headless machines; we
    // are headless when we get here, so give it a private directory to silence that.
    if (!process.env.XDG_RUNTIME_DIR) {
      try {
        const dir = `${(process.env.TMPDIR ?? '/tmp').replace(/\/$/, '')}/kiln-xdg-${process.getuid?.() ?? 'user'}`;
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        process.env.XDG_RUNTIME_DIR = dir;
      } catch { /* only cosmetic */ }
    }
    return true;
  };

  // On a headless Linux machine without a GPU device node, go straight to SwiftShader (the other
  // ICDs Mesa installs, lavapipe included, are rejected by Dawn and only print warnings).
  let triedSoftware = false;
  if (linux && !userIcd && (opts.forceSoftware || !hasGpuDeviceNode(fs))) triedSoftware = useSwiftShader();
  let ctx = await requestDevice(mod.create([]), opts);
  if (!ctx && !triedSoftware && useSwiftShader()) ctx = await requestDevice(mod.create([]), opts);
  if (ctx) return ctx;

  if (linux && !VULKAN_LOADERS.some((p) => fs.existsSync(p))) {
    throw new WebGpuUnavailableError('vulkan-loader',
      `webgpu: Dawn found no Vulkan loader (libvulkan.so.1). Install it and SwiftShader with \`${WEBGPU_DEPS_FIX}\` (or run .ci/webgpu-deps.sh)`);
  }
  const icdNote = userIcd
    ? `VK_ICD_FILENAMES=${userIcd} gave no adapter; unset it or point it at vk_swiftshader_icd.json`
    : swiftshader
      ? `neither the system Vulkan driver nor SwiftShader (${swiftshader}) gave an adapter`
      : `no GPU driver gave an adapter and SwiftShader's vk_swiftshader_icd.json was not found; install it with \`${WEBGPU_DEPS_FIX}\``;
  throw new WebGpuUnavailableError('adapter', `webgpu: requestAdapter() returned null: ${icdNote}`);
}
