// Constants for trigonometric range reduction shared by the backends' sin/cos builtins.

/**
 * The bits of 2/pi for Payne-Hanek reduction: entry i is floor(2/pi * 2^(8(i+1))) mod 2^32, so
 * consecutive entries are 32-bit windows 8 bits apart (computed with BigInt, pi by Machin's formula).
 */
export function invPio2Table(): Uint32Array {
  const P = 400n;
  const atanInv = (x: bigint): bigint => {
    let term = (1n << P) / x;
    let sum = term;
    let n = 1n;
    let sign = -1n;
    while (term !== 0n) {
      term /= x * x;
      sum += (sign * term) / (2n * n + 1n);
      sign = -sign;
      n++;
    }
    return sum;
  };
  const pi = 16n * atanInv(5n) - 4n * atanInv(239n);
  const twoOverPi = (2n << (2n * P)) / pi;
  const out = new Uint32Array(24);
  for (let i = 0; i < 24; i++) out[i] = Number((twoOverPi >> (P - 8n * BigInt(i + 1))) & 0xffffffffn);
  return out;
}
