// Cumulative sums and products as composites. A row of n is cut into blocks of BLOCK: inside a block
// each prefix is a masked reduction over a triangular window (a broadcast, a where and one sum or
// prod, which fuses into one reduce kernel compiled), and the blocks' totals are scanned the same way
// one level up and combined. Work is O(BLOCK·n) and memory O(n) compiled (eagerly the masked block is
// materialised: BLOCK·n elements); gradients come from the primitives (prod's handles zeros).
import { KilnError } from './core/errors.js';
import { normalizeDim } from './core/shape.js';
import { arange } from './creation.js';
import * as F from './functional.js';
import { scalarOf } from './tensor-ops.js';
import { expectTensor, type Tensor } from './tensor.js';

/** Block length: small enough that the masked block stays cheap, large enough for few levels. */
const BLOCK = 16;

type ScanOp = 'sum' | 'prod';

/** Inclusive scan along the last dim of x (n <= BLOCK): out[..., i] = op over x[..., 0..i]. */
function scanSmall(x: Tensor, op: ScanOp): Tensor {
  const n = x.shape[x.ndim - 1];
  const ids = arange(n, undefined, 1, { backend: x.backend });
  const upto = ids.reshape([n, 1]).ge(ids.reshape([1, n])); // [i, j]: j <= i
  const rows = x.unsqueeze(-2).expand([...x.shape.slice(0, -1), n, n]);
  const masked = rows.where(upto, scalarOf(x, op === 'sum' ? 0 : 1));
  return op === 'sum' ? masked.sum(-1) : masked.prod(-1);
}

/** Inclusive scan along the last dim. */
function scanLast(x: Tensor, op: ScanOp): Tensor {
  const n = x.shape[x.ndim - 1];
  if (n <= BLOCK) return scanSmall(x, op);
  const lead = x.shape.slice(0, -1);
  const nb = Math.ceil(n / BLOCK);
  const padded = nb * BLOCK === n ? x : F.pad(x, [...lead.map((): [number, number] => [0, 0]), [0, nb * BLOCK - n]], op === 'sum' ? 0 : 1);
  const inner = scanSmall(padded.reshape([...lead, nb, BLOCK]), op); // prefixes within each block
  const totals = inner.narrow(-1, BLOCK - 1, 1).squeeze(-1); // [..., nb]
  // Exclusive prefix of the block totals: the scan of the totals shifted right by one block.
  const before = scanLast(totals.narrow(-1, 0, nb - 1), op);
  const carry = F.pad(before, [...lead.map((): [number, number] => [0, 0]), [1, 0]], op === 'sum' ? 0 : 1).unsqueeze(-1);
  const out = (op === 'sum' ? inner.add(carry) : inner.mul(carry)).reshape([...lead, nb * BLOCK]);
  return out.narrow(-1, 0, n);
}

function scan(op: ScanOp, x: Tensor, dim: number): Tensor {
  const name = op === 'sum' ? 'cumsum' : 'cumprod';
  expectTensor(name, 'the input', x);
  if (dim === undefined || dim === null) throw new KilnError(`${name}: dim is required`);
  const d = normalizeDim(name, dim, x.ndim);
  // torch: bool and int inputs accumulate as integers.
  const xs = x.dtype === 'bool' ? x.to('int32') : x;
  if (x.ndim === 0) return xs.add(scalarOf(xs, 0));
  if (x.shape[d] === 0) return xs.add(scalarOf(xs, 0));
  const last = d === x.ndim - 1;
  const moved = last ? xs : xs.movedim(d, -1);
  const out = scanLast(moved, op);
  return last ? out : out.movedim(-1, d);
}

/** Cumulative sum along `dim` (bool and int32 inputs give int32). */
export function cumsum(x: Tensor, dim: number): Tensor { return scan('sum', x, dim); }

/** Cumulative product along `dim` (bool and int32 inputs give int32). */
export function cumprod(x: Tensor, dim: number): Tensor { return scan('prod', x, dim); }
