// The bad-input table: misuse a new user would try, across creation, ops, autograd, memory,
// compile, backends and optimizers. Each case either throws a KilnError (or a subclass) whose message
// names the op at fault ("clear error"), or is accepted and computes the right thing ("handled").
// After every case a known-good computation still gives the right answer on each backend, eagerly
// and compiled: a bad call never corrupts kiln's state. No TypeError, RangeError or RuntimeError
// from inside kiln may reach the user.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import {
  AutogradError, DTypeError, KilnError, ShapeError, Tensor, arange, compile, nn, ones, optim, tensor, zeros,
} from '../../src/index.js';
import { BACKENDS } from '../eager/backends.js';

type ErrorClass = new (...args: any[]) => Error;
type Group = 'creation' | 'ops' | 'autograd' | 'memory' | 'compile' | 'backends' | 'optimizers';

interface Case {
  readonly group: Group;
  readonly name: string;
  readonly run: () => unknown;
  /**
   * 'error': must throw `cls` (default KilnError) with a message matching `op`.
   * 'handled': must not throw; `check` (when given) asserts the result.
   */
  readonly expect: 'error' | 'handled';
  readonly op?: string | RegExp;
  readonly cls?: ErrorClass;
  readonly check?: (result: unknown) => void;
  /** Backend the case needs (skipped, and reported by name, when it is unavailable). */
  readonly needs?: k.BackendName;
}

const err = (group: Group, name: string, op: string | RegExp, run: () => unknown, cls: ErrorClass = KilnError, needs?: k.BackendName): Case =>
  ({ group, name, run, expect: 'error', op, cls, needs });
const ok = (group: Group, name: string, run: () => unknown, check?: (r: unknown) => void, needs?: k.BackendName): Case =>
  ({ group, name, run, expect: 'handled', check, needs });

const values = (t: unknown) => Array.from((t as Tensor).data());
const x23 = () => tensor([[1, 2, 3], [4, 5, 6]]);
const i32 = (v: number[]) => tensor(v, { dtype: 'int32' });
const leaf = () => tensor([1, 2, 3], { requiresGrad: true });
const cyclic = () => { const a: unknown[] = [1, 2]; a.push(a); return a; };
const holey = () => { const a = [1, 2, 3]; delete (a as (number | undefined)[])[1]; return a; };
const sq = (x: Tensor) => x.mul(x);

const CREATION: Case[] = [
  err('creation', 'tensor: unknown dtype string', 'tensor', () => tensor([1], { dtype: 'float64' as never }), DTypeError),
  err('creation', 'zeros: unknown dtype', 'zeros', () => zeros([2], { dtype: 'int8' as never }), DTypeError),
  err('creation', 'ones: dtype that is not a string', 'ones', () => ones([2], { dtype: 5 as never }), DTypeError),
  err('creation', 'full: unknown dtype', 'full', () => k.full([2], 1, { dtype: 'double' as never }), DTypeError),
  err('creation', 'arange: unknown dtype', 'arange', () => arange(3, undefined, 1, { dtype: 'uint8' as never }), DTypeError),
  err('creation', 'eye: unknown dtype', 'eye', () => k.eye(2, 2, { dtype: 'f32' as never }), DTypeError),
  err('creation', 'linspace: unknown dtype', 'linspace', () => k.linspace(0, 1, 3, { dtype: 'half' as never }), DTypeError),
  err('creation', 'rand: int dtype', 'rand', () => k.rand([2], { dtype: 'int32' })),
  err('creation', 'full: string fill value', 'full', () => k.full([2], 'a' as never)),
  err('creation', 'full: undefined fill value', 'full', () => k.full([2], undefined as never)),
  err('creation', 'full: null fill value', 'full', () => k.full([2], null as never)),
  err('creation', 'full: int32 fill past int32', 'full', () => k.full([2], 2 ** 40, { dtype: 'int32' })),
  err('creation', 'full: NaN into int32', 'full', () => k.full([2], NaN, { dtype: 'int32' })),
  err('creation', 'full: shape given as a string', 'full', () => k.full('2' as never, 1)),
  err('creation', 'zeros: shape given as a number', 'zeros', () => zeros(3 as never)),
  err('creation', 'zeros: fractional size', 'zeros', () => zeros([2.5]), ShapeError),
  err('creation', 'zeros: negative size', 'zeros', () => zeros([-1]), ShapeError),
  err('creation', 'zeros: NaN size', 'zeros', () => zeros([NaN]), ShapeError),
  err('creation', 'zeros: larger than any heap can hold', 'zeros', () => zeros([1e6, 1e6])),
  err('creation', 'ones: 16 GiB', 'ones', () => ones([2 ** 20, 2 ** 12])),
  err('creation', 'zeros: options that are not an object', 'zeros', () => zeros([2], 'float32' as never)),
  ok('creation', 'zeros: null options', () => zeros([2], null as never), (r) => expect(values(r)).toEqual([0, 0])),
  err('creation', 'tensor: cyclic nested array', 'tensor', () => tensor(cyclic() as never)),
  err('creation', 'tensor: array with a hole', 'tensor', () => tensor(holey()), ShapeError),
  err('creation', 'tensor: ragged nested array', 'tensor', () => tensor([[1, 2], [3]]), ShapeError),
  err('creation', 'tensor: strings', 'tensor', () => tensor(['a'] as never)),
  err('creation', 'tensor: undefined', 'tensor', () => tensor(undefined as never)),
  err('creation', 'tensor: a plain object', 'tensor', () => tensor({} as never)),
  err('creation', 'tensor: null', 'tensor', () => tensor(null as never)),
  err('creation', 'tensor: values do not fill the shape', 'tensor', () => tensor([1, 2], { shape: [3] }), ShapeError),
  err('creation', 'tensor: int32 value past int32', 'tensor', () => tensor([2 ** 40], { dtype: 'int32' })),
  err('creation', 'tensor: unknown backend', 'tensor', () => tensor([1], { backend: 'tpu' as never })),
  err('creation', 'tensor: requiresGrad on int32', /requiresGrad/, () => tensor([1], { dtype: 'int32', requiresGrad: true }), AutogradError),
  ok('creation', 'tensor: Float64Array input', () => tensor(new Float64Array([1.5, 2]) as never), (r) => expect(values(r)).toEqual([1.5, 2])),
  ok('creation', 'full: boolean into float32', () => k.full([2], true, { dtype: 'float32' }), (r) => expect(values(r)).toEqual([1, 1])),
  err('creation', 'arange: past int32', 'arange', () => arange(0, 2 ** 32, 2 ** 30)),
  err('creation', 'arange: a trillion elements', 'arange', () => arange(0, 1e12)),
  err('creation', 'arange: string end', 'arange', () => arange('a' as never)),
  err('creation', 'arange: infinite end', 'arange', () => arange(0, Infinity)),
  err('creation', 'arange: NaN step', 'arange', () => arange(0, 5, NaN)),
  err('creation', 'linspace: string steps', 'linspace', () => k.linspace(0, 1, '3' as never)),
  err('creation', 'eye: negative size', 'eye', () => k.eye(-1)),
  err('creation', 'eye: fractional size', 'eye', () => k.eye(2.5)),
  err('creation', 'randint: high past int32', 'randint', () => k.randint(0, 2 ** 40, [2])),
  err('creation', 'randint: fractional bounds', 'randint', () => k.randint(0.5, 3, [2])),
  err('creation', 'randn: shape as a string', 'randn', () => k.randn('3' as never)),
];

const OPS_CASES: Case[] = [
  err('ops', 'matmul with a number', 'matmul', () => x23().matmul(3 as never)),
  err('ops', 'matmul with a nested array', 'matmul', () => x23().matmul([[1, 0], [0, 1]] as never)),
  err('ops', 'kiln.matmul with a number first', 'matmul', () => k.matmul(3 as never, x23())),
  err('ops', 'cat with a number in the list', 'cat', () => k.cat([ones([2]), 5 as never])),
  err('ops', 'cat with a string', 'cat', () => k.cat('ab' as never)),
  err('ops', 'stack with null in the list', 'stack', () => k.stack([ones([2]), null as never])),
  err('ops', 'add a string', 'add', () => ones([2]).add('3' as never)),
  err('ops', 'add undefined', 'add', () => ones([2]).add(undefined as never)),
  err('ops', 'add null', 'add', () => ones([2]).add(null as never)),
  err('ops', 'add an object', 'add', () => ones([2]).add({} as never)),
  err('ops', 'add a plain array', 'add', () => ones([2]).add([1, 2] as never)),
  err('ops', 'add a BigInt', 'add', () => ones([2]).add(2n as never)),
  err('ops', 'kiln.add with a string', 'add', () => k.add(ones([2]), '3' as never)),
  err('ops', 'int32 add a number past int32', 'add', () => i32([1, 2]).add(2 ** 32 + 5)),
  err('ops', 'int32 mul by 2^31', 'mul', () => i32([1]).mul(2 ** 31)),
  err('ops', 'int32 maximum with 2^40', 'maximum', () => i32([1]).maximum(2 ** 40)),
  ok('ops', 'int32 div by 1e10 divides by 1e10', () => i32([2e9, -5]).div(1e10), (r) => expect(values(r)).toEqual([Math.fround(0.2), Math.fround(-5e-10)])),
  ok('ops', 'int32 pow with a huge exponent is float', () => i32([1]).pow(2 ** 40), (r) => expect(values(r)).toEqual([1])),
  err('ops', 'maximum undefined', 'maximum', () => ones([2]).maximum(undefined as never)),
  err('ops', 'where with a string branch', 'where', () => k.where(ones([2]).gt(0), 'a' as never, 1)),
  err('ops', 'where with a number condition', 'where', () => k.where(5 as never, ones([2]), 0)),
  ok('ops', 'Tensor.where with a boolean condition', () => ones([2]).where(false, 7), (r) => expect(values(r)).toEqual([7, 7])),
  err('ops', 'sum over a string dim', 'sum', () => x23().sum('1' as never)),
  err('ops', 'sum over a list with a string', 'sum', () => x23().sum([0, '1'] as never)),
  err('ops', 'sum: fractional dim', 'sum', () => x23().sum(0.5), ShapeError),
  err('ops', 'sum: keepdim that is not a boolean', 'sum', () => x23().sum(0, 'yes' as never)),
  ok('ops', 'mean over null dims means all', () => x23().mean(null as never), (r) => expect(values(r)).toEqual([3.5])),
  err('ops', 'softmax over a string dim', 'softmax', () => x23().softmax('x' as never)),
  err('ops', 'argmax over a string dim', 'argmax', () => x23().argmax('0' as never)),
  err('ops', 'var with a string correction', 'var', () => x23().var(0, false, 'a' as never)),
  err('ops', 'reshape to a string', 'reshape', () => x23().reshape('a' as never)),
  err('ops', 'reshape with a string size', 'reshape', () => x23().reshape([2, 'a'] as never)),
  err('ops', 'reshape to a fractional size', 'reshape', () => x23().reshape(2.5), ShapeError),
  err('ops', 'permute with a string', 'permute', () => x23().permute('ab' as never)),
  err('ops', 'transpose with a string dim', 'transpose', () => x23().transpose(0, '1' as never)),
  err('ops', 'unsqueeze with a string dim', 'unsqueeze', () => x23().unsqueeze('0' as never)),
  err('ops', 'expand to a string', 'expand', () => ones([3]).expand('3' as never)),
  err('ops', 'expand with NaN', 'expand', () => ones([3]).expand([2, NaN])),
  err('ops', "slice('1:3')", 'slice', () => ones([5]).slice('1:3' as never)),
  err('ops', 'slice with a string bound', 'slice', () => ones([5]).slice([[0, 'a']] as never)),
  err('ops', 'slice with a fractional bound', 'slice', () => ones([5]).slice([[0, 1.5]])),
  err('ops', 'slice with a number for a dim', 'slice', () => ones([5]).slice([2] as never)),
  ok('ops', 'slice [[null, null, -1]] reverses', () => tensor([1, 2, 3]).slice([[null, null, -1]] as never), (r) => expect(values(r)).toEqual([3, 2, 1])),
  ok('ops', 'slice [[1, null]] runs to the end', () => tensor([1, 2, 3]).slice([[1, null]] as never), (r) => expect(values(r)).toEqual([2, 3])),
  err('ops', 'narrow with a string start', 'narrow', () => ones([5]).narrow(0, 'a' as never, 1)),
  err('ops', 'narrow with a fractional length', 'narrow', () => ones([5]).narrow(0, 0, 1.5)),
  err('ops', 'split with a string size', 'split', () => ones([5]).split('2' as never)),
  err('ops', 'pad with a string', 'pad', () => ones([2]).pad('x' as never)),
  err('ops', 'pad with a fractional amount', 'pad', () => ones([2]).pad([[0, 1.5]]), ShapeError),
  err('ops', 'pad with a string value', 'pad', () => ones([2]).pad([[0, 1]], 'a' as never)),
  err('ops', 'flip with a string dim', 'flip', () => ones([2]).flip('0' as never)),
  err('ops', 'gather with a plain array index', 'gather', () => x23().gather(1, [0] as never)),
  err('ops', 'gather along a string dim', 'gather', () => x23().gather('1' as never, i32([0]).reshape([1, 1]))),
  err('ops', 'indexSelect with a number index', 'indexSelect', () => x23().indexSelect(0, 5 as never)),
  err('ops', 'indexSelect out of range', 'indexSelect', () => x23().indexSelect(0, i32([0, 2])), ShapeError),
  err('ops', 'gather with a negative index', 'gather', () => x23().gather(1, i32([-1, 0]).reshape([2, 1])), ShapeError),
  err('ops', 'embedding with a float index', 'embedding', () => k.embedding(tensor([0.0]), ones([3, 2])), DTypeError),
  err('ops', 'clamp with a string bound', 'clamp', () => ones([2]).clamp('0' as never, 1)),
  ok('ops', 'clamp with min > max gives max', () => tensor([0, 5]).clamp(2, 1), (r) => expect(values(r)).toEqual([1, 1])),
  err('ops', 'pow with a string', 'pow', () => ones([2]).pow('2' as never)),
  err('ops', 'softplus with a string beta', 'softplus', () => ones([2]).softplus('a' as never)),
  err('ops', 'gelu with an unknown approximation', 'gelu', () => ones([2]).gelu('fast' as never)),
  err('ops', 'dropout with a string p', 'dropout', () => k.dropout(ones([2]), 'a' as never)),
  err('ops', 'dropout with NaN', 'dropout', () => k.dropout(ones([2]), NaN)),
  err('ops', "to('tpu')", 'to', () => ones([2]).to('tpu' as never)),
  err('ops', 'to(5)', 'to', () => ones([2]).to(5 as never)),
  err('ops', 'layerNorm with a string shape', 'layerNorm', () => k.layerNorm(x23(), 'a' as never)),
  err('ops', 'copy_ from a number', 'copy_', () => ones([2]).copy_(5 as never)),
  err('ops', 'fill_ with a string', 'fill_', () => ones([2]).fill_('a' as never)),
  err('ops', 'int32 fill_ past int32', 'fill_', () => i32([1]).fill_(2 ** 33)),
  err('ops', 'crossEntropy with a plain array target', 'crossEntropy', () => nn.crossEntropy(x23(), [0, 1] as never)),
  err('ops', 'crossEntropy with a class id out of range', 'crossEntropy', () => nn.crossEntropy(x23(), i32([0, 3]))),
  err('ops', 'mseLoss with a number target', 'mseLoss', () => nn.mseLoss(ones([2]), 3 as never)),
  err('ops', 'Linear with a string size', 'Linear', () => new nn.Linear('a' as never, 3)),
  err('ops', 'item() of two elements', 'item', () => ones([2]).item(), ShapeError),
  err('ops', 'broadcast mismatch', 'add', () => ones([2, 3]).add(ones([4])), ShapeError),
];

const AUTOGRAD: Case[] = [
  err('autograd', 'backward of a non-scalar', 'backward', () => leaf().mul(2).backward(), AutogradError),
  err('autograd', 'backward without requiresGrad', 'backward', () => ones([1]).mul(2).backward(), AutogradError),
  err('autograd', 'backward twice', /backward/, () => { const y = leaf().mul(leaf()).sum(); y.backward(); y.backward(); }, AutogradError),
  err('autograd', 'backward with a gradient of the wrong shape', 'backward', () => leaf().mul(2).backward(ones([2])), ShapeError),
  err('autograd', 'backward with a number gradient', 'backward', () => leaf().mul(2).backward(5 as never)),
  err('autograd', 'requiresGrad_ on int32', 'requiresGrad', () => arange(3).requiresGrad_(), AutogradError),
  err('autograd', 'requiresGrad set to a string', 'requiresGrad', () => { ones([1]).requiresGrad = 'yes' as never; }),
  err('autograd', 'in-place on a leaf that requires grad', 'add_', () => leaf().add_(1), AutogradError),
  err('autograd', 'a saved tensor modified in place', /backward|version|modified/, () => {
    const a = leaf(); const b = a.mul(1); const c = sq(b); b.add_(1); c.sum().backward();
  }, AutogradError),
  err('autograd', 'grad set to a number', 'grad', () => { leaf().grad = 5 as never; }),
  err('autograd', 'grad set to the wrong shape', 'grad', () => { leaf().grad = ones([2]); }, ShapeError),
  err('autograd', 'retainGrad without requiresGrad', 'retainGrad', () => ones([1]).retainGrad(), AutogradError),
  err('autograd', 'requiresGrad_(false) on a non-leaf', 'requiresGrad_', () => leaf().mul(2).requiresGrad_(false), AutogradError),
  err('autograd', 'noGrad of a number', 'noGrad', () => k.noGrad(5 as never)),
];

const MEMORY: Case[] = [
  err('memory', 'op on a disposed tensor', /add/, () => { const t = ones([2]); t.dispose(); t.add(1); }),
  err('memory', 'read of a disposed tensor', /data/, () => { const t = ones([2]); t.dispose(); t.data(); }),
  ok('memory', 'dispose twice', () => { const t = ones([2]); t.dispose(); t.dispose(); }),
  ok('memory', 'a view outlives its disposed base', () => { const b = tensor([1, 2, 3]); const v = b.slice([[1, 3]]); b.dispose(); return v; }, (r) => expect(values(r)).toEqual([2, 3])),
  err('memory', 'tidy of a number', 'tidy', () => k.tidy(5 as never)),
  err('memory', 'tidy of an async function', 'tidy', () => k.tidy((async () => ones([2])) as never)),
  err('memory', 'tidy of a function returning a promise', 'tidy', () => k.tidy((() => Promise.resolve(1)) as never)),
  err('memory', 'a tensor used after tidy freed it', /mul/, () => { let t: Tensor | null = null; k.tidy(() => { t = ones([2]).add(1); return 0; }); t!.mul(2); }),
  err('memory', 'keep of a number', 'keep', () => k.keep(5 as never)),
  err('memory', 'matmul output larger than the heap', /matmul|alloc|memory/, () => ones([65536, 1]).matmul(ones([1, 65536]))),
];

const COMPILE: Case[] = [
  err('compile', 'compile(5)', 'compile', () => compile(5 as never)),
  err('compile', "compile('fn')", 'compile', () => compile('x => x' as never)),
  err('compile', 'cacheLimit -1', 'compile', () => compile(sq, { cacheLimit: -1 })),
  err('compile', 'cacheLimit a string', 'compile', () => compile(sq, { cacheLimit: 'a' as never })),
  err('compile', 'cacheLimit fractional', 'compile', () => compile(sq, { cacheLimit: 2.5 })),
  err('compile', 'unknown backend', 'compile', () => compile(sq, { backend: 'tpu' as never })),
  err('compile', 'fullgraph a string', 'compile', () => compile(sq, { fullgraph: 'yes' as never })),
  err('compile', 'dynamic a string', 'compile', () => compile(sq, { dynamic: 'sometimes' as never })),
  err('compile', 'an unknown option', 'compile', () => compile(sq, { fullGraph: true } as never)),
  err('compile', 'options that are not an object', 'compile', () => compile(sq, 5 as never)),
  err('compile', 'wasm function called with a cpu tensor', 'compile', () => compile(sq, { backend: 'wasm' })(ones([2], { backend: 'cpu' }))),
  err('compile', 'cpu function called with a wasm tensor', 'compile', () => compile(sq, { backend: 'cpu' })(ones([2], { backend: 'wasm' }))),
  err('compile', 'a shape error inside names the op', 'add', () => compile((a: Tensor) => a.add(ones([4])))(ones([3])), ShapeError),
  err('compile', 'fullgraph with item()', /item|graph break/, () => compile((a: Tensor) => a.mul(Number(a.sum().item())), { fullgraph: true })(ones([2]))),
  err('compile', 'out-of-range gather index, compiled', 'indexSelect', () => compile((a: Tensor, i: Tensor) => a.indexSelect(0, i).mul(2))(x23(), i32([1, 5])), ShapeError),
  err('compile', 'out-of-range index on a replay', 'indexSelect', () => { const f = compile((a: Tensor, i: Tensor) => a.indexSelect(0, i).add(1)); f(x23(), i32([0])); f(x23(), i32([1])); return f(x23(), i32([2])); }, ShapeError),
  err('compile', 'out-of-range class id, compiled', 'crossEntropy', () => compile((a: Tensor, t: Tensor) => nn.crossEntropy(a, t))(x23(), i32([0, 7]))),
  err('compile', 'out-of-range class id on a replay', 'crossEntropy', () => { const f = compile((a: Tensor, t: Tensor) => nn.crossEntropy(a, t)); f(x23(), i32([0, 1])); f(x23(), i32([2, 1])); return f(x23(), i32([0, 3])); }),
  err('compile', 'class id out of range beside an ignored one, compiled', 'crossEntropy', () => compile((a: Tensor, t: Tensor) => nn.crossEntropy(a, t, { ignoreIndex: 1 }))(x23(), i32([1, 3])), ShapeError),
  err('compile', 'negative class id that is not ignoreIndex, compiled', 'crossEntropy', () => compile((a: Tensor, t: Tensor) => nn.crossEntropy(a, t))(x23(), i32([-100, -1])), ShapeError),
  err('compile', 'nllLoss class id out of range, compiled', 'nllLoss', () => compile((a: Tensor, t: Tensor) => nn.nllLoss(a, t))(x23(), i32([0, 3])), ShapeError),
  err('compile', 'oneHot of a computed class out of range, compiled', 'oneHot', () => compile((t: Tensor) => k.oneHot(t.add(1), 3))(i32([0, 2])), ShapeError),
  err('compile', 'scatter index out of range, compiled', 'scatter', () => compile((a: Tensor, t: Tensor) => a.scatter(1, t.add(1), 2))(x23(), i32([0, 2]).reshape([1, 2])), ShapeError),
  err('compile', 'scatterAdd index out of range, compiled', 'scatterAdd', () => compile((a: Tensor, t: Tensor) => a.scatterAdd(0, t, a.mul(2)))(x23(), i32([0, 1, 2, 1, 0, 0]).reshape([2, 3])), ShapeError),
  err('compile', 'indexAdd index out of range on a replay', 'indexAdd', () => { const f = compile((a: Tensor, t: Tensor) => a.indexAdd(1, t, a)); f(x23(), i32([0, 1, 2])); return f(x23(), i32([0, 3, 2])); }, ShapeError),
  err('compile', 'indexPut index out of range, compiled', 'indexPut', () => compile((a: Tensor, t: Tensor) => a.indexPut([t], 0, { accumulate: true }))(x23(), i32([1, -3])), ShapeError),
  err('compile', 'explain(5)', 'explain', () => k.explain(5 as never)),
  err('compile', 'explain(compiled) without the arguments', /^explain: .*no arguments.*conv2d: the input must be a tensor, got undefined/,
    () => k.explain(compile((x: Tensor) => k.conv2d(x, ones([1, 1, 1, 1]))))),
  err('compile', 'a module whose parameters live on wasm, compiled for cpu', 'compile', () => {
    const m = new nn.Linear(3, 2).to('wasm');
    return k.compile((x: Tensor) => m.forward(x), { backend: 'cpu' })(ones([1, 3], { backend: 'cpu' }));
  }),
];

const webgpuCase = (name: string, op: string | RegExp, run: () => unknown): Case => err('backends', name, op, run, KilnError, 'webgpu');
const BACKEND_CASES: Case[] = [
  err('backends', 'setBackend to an unknown name', 'setBackend', () => k.setBackend('tpu' as never)),
  err('backends', 'getBackend of an unknown name', 'getBackend', () => k.getBackend('tpu' as never)),
  err('backends', 'operands on different backends', 'add', () => ones([2], { backend: 'cpu' }).add(ones([2], { backend: 'wasm' }))),
  ok('backends', 'copy from wasm to cpu', () => tensor([1, 2]).to('cpu'), (r) => expect(values(r)).toEqual([1, 2])),
  webgpuCase('item() on webgpu names itemAsync', 'itemAsync', () => ones([1], { backend: 'webgpu' }).item()),
  webgpuCase('data() on webgpu names dataAsync', 'dataAsync', () => ones([1], { backend: 'webgpu' }).data()),
  webgpuCase('toArray() on webgpu names toArrayAsync', 'toArrayAsync', () => ones([1], { backend: 'webgpu' }).toArray()),
  webgpuCase("to('cpu') from webgpu names toAsync", 'toAsync', () => ones([1], { backend: 'webgpu' }).to('cpu')),
  webgpuCase('webgpu and wasm operands', 'mul', () => ones([1], { backend: 'webgpu' }).mul(ones([1]))),
];

// Optimizer option validation lives with the optimizers; its cases belong here.
const OPTIMIZER_CASES: Case[] = [
  err('optimizers', 'SGD with no parameters', 'SGD', () => new optim.SGD([], { lr: 0.1 })),
  // As torch: a leaf that does not require grad is accepted (it never gets a gradient); a computed tensor is not.
  err('optimizers', 'Adam with a parameter that is not a leaf', 'Adam', () => new optim.Adam([ones([1], { requiresGrad: true }).mul(2)])),
];

const CASES: readonly Case[] = [...CREATION, ...OPS_CASES, ...AUTOGRAD, ...MEMORY, ...COMPILE, ...BACKEND_CASES, ...OPTIMIZER_CASES];

/** Errors from inside kiln that must never reach a user (they mean an unchecked input). */
const FOREIGN = ['TypeError', 'RangeError', 'RuntimeError', 'ReferenceError', 'SyntaxError'];

type Outcome = 'clear error' | 'handled' | 'other';
const outcomes: Record<Outcome, number> = { 'clear error': 0, handled: 0, other: 0 };
const available = new Set(BACKENDS.filter((b) => b.available).map((b) => b.name));

/** The known-good computation, eager and compiled, on every available backend. */
const knownGood = new Map<k.BackendName, (a: Tensor) => Tensor>();
const compiledOn = (b: k.BackendName) => {
  let f = knownGood.get(b);
  if (!f) knownGood.set(b, (f = compile((a: Tensor) => a.mul(2).add(1).sum(), { backend: b })));
  return f;
};
async function checkState(): Promise<void> {
  for (const b of available) {
    const a = tensor([1, 2, 3], { backend: b });
    expect(await a.mul(2).add(1).sum().itemAsync(), `eager on ${b}`).toBe(15);
    expect(await compiledOn(b)(a).itemAsync(), `compiled on ${b}`).toBe(15);
  }
  expect(k.currentBackend()).toBe('wasm');
}

describe('the bad-input table', () => {
  beforeAll(async () => { await k.ready(); });
  afterAll(() => {
    console.log(`[bad input] ${CASES.length} cases: ${outcomes['clear error']} clear errors, ${outcomes.handled} handled, ${outcomes.other} other`);
  });

  it('has at least 100 cases in every group', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(100);
    for (const g of ['creation', 'ops', 'autograd', 'memory', 'compile', 'backends', 'optimizers'] as Group[]) {
      expect(CASES.some((c) => c.group === g), g).toBe(true);
    }
  });

  for (const c of CASES) {
    const skip = c.needs !== undefined && !BACKENDS.find((b) => b.name === c.needs)?.available;
    it.skipIf(skip)(`${c.group}: ${c.name}`, async () => {
      let caught: unknown;
      let result: unknown;
      try { result = await c.run(); } catch (e) { caught = e; }
      let outcome: Outcome = 'other';
      try {
        if (c.expect === 'error') {
          expect(caught, 'expected an error').toBeDefined();
          const e = caught as Error;
          expect(FOREIGN, `${e.name}: ${e.message}`).not.toContain(e.name);
          expect(e, `${e.name}: ${e.message}`).toBeInstanceOf(c.cls ?? KilnError);
          if (typeof c.op === 'string') expect(e.message).toContain(c.op);
          else if (c.op) expect(e.message).toMatch(c.op);
          outcome = 'clear error';
        } else {
          if (caught) throw caught;
          c.check?.(result);
          outcome = 'handled';
        }
      } finally {
        outcomes[outcome]++;
      }
      await checkState();
    });
  }
});
