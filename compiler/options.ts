// compile()'s argument checks: the options object (known keys, each of the right type) and, per call,
// that every tensor argument lives on the backend the function compiles for.
import type { BackendName } from '../src/core/backend.js';
import { KilnError } from '../src/core/errors.js';
import { checkBool, checkOptions, describeValue } from '../src/core/validate.js';
import type { Tensor } from '../src/tensor.js';
import type { CompileOptions } from './compile.js';

const KEYS = ['backend', 'fullgraph', 'dynamic', 'cacheLimit', 'pure'] as const satisfies readonly (keyof CompileOptions)[];
// Every option of CompileOptions is listed above (tsc fails here when one is added without it).
type Unlisted = Exclude<keyof CompileOptions, (typeof KEYS)[number]>;
const everyOptionListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyOptionListed;

const BACKENDS: readonly BackendName[] = ['cpu', 'wasm', 'webgpu'];

/** Checks compile()'s options: a plain object of known keys with values of the right types. */
export function checkCompileOptions(opts: unknown): CompileOptions {
  const o = checkOptions<CompileOptions>('compile', opts, KEYS);
  if (o.backend !== undefined && !BACKENDS.includes(o.backend)) {
    throw new KilnError(`compile: unknown backend ${describeValue(o.backend)}, expected ${BACKENDS.map((b) => `'${b}'`).join(', ')}`);
  }
  if (o.fullgraph !== undefined) checkBool('compile', 'fullgraph', o.fullgraph);
  if (o.pure !== undefined) checkBool('compile', 'pure', o.pure);
  if (o.dynamic !== undefined && o.dynamic !== 'auto' && typeof o.dynamic !== 'boolean') {
    throw new KilnError(`compile: dynamic must be true, false or 'auto', got ${describeValue(o.dynamic)}`);
  }
  if (o.cacheLimit !== undefined && (typeof o.cacheLimit !== 'number' || !Number.isInteger(o.cacheLimit) || o.cacheLimit < 1)) {
    throw new KilnError(`compile: cacheLimit must be a positive integer (signatures kept before running eagerly), got ${describeValue(o.cacheLimit)}`);
  }
  return o;
}

/** Throws unless every tensor argument lives on `backend` (a compiled function runs on one backend). */
export function checkArgBackends(name: string, backend: BackendName, leaves: readonly { path: string; tensor?: Tensor }[]): void {
  for (const l of leaves) {
    if (!l.tensor || l.tensor.backend === backend) continue;
    throw new KilnError(`compile: ${name} compiles for the ${backend} backend, but argument ${l.path} lives on ${l.tensor.backend}; ` +
      `move it with t.to('${backend}'), or compile with { backend: '${l.tensor.backend}' }`);
  }
}
