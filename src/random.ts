// A seedable generator (xoshiro128**) so manualSeed(n) makes rand/randn/randint/dropout repeatable.

import { KilnError } from './core/errors.js';
import { describeValue } from './core/validate.js';

let s0 = 0x9e3779b9, s1 = 0x243f6a88, s2 = 0xb7e15162, s3 = 0x12345678;

function splitmix32(a: number): () => number {
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Seeds the global generator. */
export function manualSeed(seed: number): void {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new KilnError(`manualSeed: the seed must be a finite number, got ${describeValue(seed)}`);
  const next = splitmix32(seed | 0);
  s0 = next(); s1 = next(); s2 = next(); s3 = next();
}

/** Next 32 random bits. */
function nextU32(): number {
  const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
  const t = s1 << 9;
  s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11);
  return r;
}
const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

/** Uniform in [0, 1). */
export function uniform(): number { return nextU32() / 4294967296; }

/** Fills an array with uniform [lo, hi) floats. */
export function fillUniform(out: Float32Array, lo = 0, hi = 1): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * uniform();
  return out;
}

/** Fills an array with standard normal floats (Box-Muller). */
export function fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - uniform();
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** Fills an array with integers uniform in [low, high). */
export function fillInt(out: Int32Array, low: number, high: number): Int32Array {
  const span = high - low;
  for (let i = 0; i < out.length; i++) out[i] = low + Math.floor(uniform() * span);
  return out;
}
