// Bad arguments, found systematically rather than listed by hand: every function kiln exports (the
// namespaces' too), every nn module's forward, every other exported class's constructor and every
// Tensor method is called with values that are not tensors (undefined, null, a number, a plain array,
// a string) first and second. Each call must throw a KilnError whose message names the op (never a
// TypeError or RangeError from inside kiln), or, for a number, behave exactly as the same number made
// a tensor (kiln.add(3, x) is add(tensor(3), x)); the few for which a bad value is legitimate are
// listed with reasons. After each sweep kiln must be in a good state: a known-good computation still
// gives the right answer, eagerly and compiled, grad mode and the backend are as they were; and
// repeating every call that threw leaks no tensor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as k from '../../src/index.js';
import { KilnError, Tensor, nn, type BackendName } from '../../src/index.js';
import { collectGarbage } from '../../src/memory.js';

type AnyFn = (...args: unknown[]) => unknown;

const BAD: readonly (readonly [string, unknown])[] = [
  ['undefined', undefined], ['null', null], ['a number', 3], ['a plain array', [1, 2]], ['a string', 'a'],
];
const NUMBER = 3;

/** Errors from inside kiln that must never reach a user (they mean an unchecked input). */
const FOREIGN = ['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'RuntimeError'];

// ----- what each call gave --------------------------------------------------------------------------

type Outcome = { threw: false; value: unknown } | { threw: true; error: unknown };

/** Runs `f`, awaiting a promise it returns (a rejection is a throw). */
async function outcome(f: () => unknown): Promise<Outcome> {
  try {
    let v = f();
    if (v instanceof Promise) v = await v;
    return { threw: false, value: v };
  } catch (error) {
    return { threw: true, error };
  }
}

/** A comparable picture of a result: tensors by dtype, shape and values; arrays and objects by entries. */
function picture(v: unknown, depth = 0): unknown {
  if (v instanceof Tensor) return { dtype: v.dtype, shape: v.shape, values: Array.from(v.data(), Number) };
  if (depth > 3 || v === null || typeof v !== 'object') return typeof v === 'function' ? 'function' : v;
  if (Array.isArray(v)) return v.map((e) => picture(e, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([key, e]) => [key, picture(e, depth + 1)]));
}

const describeError = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : `a thrown ${String(e)}`);

/** The op names a message may use for `name` (an in-place form may name its out-of-place op). */
function opNames(name: string): string[] {
  const base = name.split('.').pop()!;
  const names = [base, base.replace(/_$/, ''), ...(ALIASES[name] ?? [])];
  return [...new Set(names)];
}
/** Exports and methods whose messages name the op they are another name for. */
const ALIASES: Record<string, string[]> = {
  variance: ['var'],
  'nn.init.trunc_normal_': ['truncNormal_'],
  view: ['reshape'],
};

/** A failure of the contract, as a line for the report (null: the call was fine). */
function judge(call: string, name: string, got: Outcome, mustThrow: boolean): string | null {
  if (!got.threw) return mustThrow ? `${call}: returned instead of throwing` : null;
  const e = got.error;
  if (!(e instanceof KilnError) || (e instanceof Error && FOREIGN.includes(e.name))) return `${call}: ${describeError(e)}`;
  const names = opNames(name);
  if (!names.some((n) => e.message.includes(n))) return `${call}: the message does not name ${names.join(' or ')}: ${describeError(e)}`;
  return null;
}

/**
 * The contract for a number where a tensor goes: a KilnError naming the op, or exactly what the same
 * number as a 0-d tensor gives (kiln's function forms take JS scalars wherever torch.* does).
 */
async function judgeNumber(call: string, name: string, got: Outcome, asTensor: () => unknown): Promise<string | null> {
  if (got.threw) return judge(call, name, got, true);
  const want = await outcome(asTensor);
  if (want.threw) return `${call}: returned, but with tensor(${NUMBER}) it throws ${describeError(want.error)}`;
  try {
    expect(picture(got.value)).toEqual(picture(want.value));
  } catch {
    return `${call}: returned something other than the call with tensor(${NUMBER})`;
  }
  return null;
}

// ----- fixtures -------------------------------------------------------------------------------------

/** Valid tensors of the ranks ops take (matrix, 1-d signal batch, image batch), fresh for each call. */
const FIXTURES: readonly (readonly [string, () => Tensor])[] = [
  ['[3,3]', () => k.tensor([[1, -2, 3], [0.5, 2, -1], [4, 0, 1]])],
  ['[1,2,5]', () => k.linspace(-2, 2.5, 10).reshape([1, 2, 5])],
  ['[1,2,4,4]', () => k.arange(32).reshape([1, 2, 4, 4]).div(8).sub(2)],
];

// ----- the functions --------------------------------------------------------------------------------

/** Namespaces that are tables, not functions to call with tensors: the op registry and its names. */
const NOT_NAMESPACES = new Set(['OPS', 'OP_NAMES']);

const isClass = (f: unknown): boolean => typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f));

/** Every function exported by kiln and its namespaces (nn, nn.init, linalg, ...), by dotted name. */
function publicFunctions(): [string, AnyFn][] {
  const out: [string, AnyFn][] = [];
  const walk = (ns: object, prefix: string) => {
    for (const [key, v] of Object.entries(ns)) {
      if (typeof v === 'function' && !isClass(v)) out.push([prefix + key, v as AnyFn]);
      else if (v !== null && typeof v === 'object' && !Array.isArray(v) && !NOT_NAMESPACES.has(key)) walk(v, `${prefix}${key}.`);
    }
  };
  walk(k, '');
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

/**
 * Functions for which one of the bad values is a legitimate first argument. They must still never
 * throw a foreign error, and what they throw must name them. Every other function must throw for
 * every bad first argument (a number aside, where it may act as tensor(number)). Functions that
 * declare no required parameter (queries such as memory(), configuration such as setLogs(spec?))
 * are treated alike without a list: calling them with nothing is valid, so a bad value may act as none.
 */
const FIRST_MAY_BE_PLAIN: Record<string, string> = Object.fromEntries(([
  // The first argument is data, a shape, a size or a seed.
  ['creation: data, a shape, a size or a seed', ['tensor', 'zeros', 'ones', 'rand', 'randn', 'arange', 'eye', 'randperm', 'empty',
    'manualSeed', 'data.randpermIndices']],
  // compile() and compile(undefined) return a decorator (the compile(options) form).
  ['compile(options) returns a decorator', ['compile']],
  // A predicate: false for anything that is not a backend's name.
  ['a predicate on backend names', ['hasBackend']],
  // setLogs() and setLogs(undefined) read the channels from KILN_LOGS.
  ['no spec reads the environment', ['setLogs']],
  // Its argument is a plain array of samples (numbers, as here, become a tensor).
  ['takes an array of samples', ['data.defaultCollate']],
  // Any value, with tensors nested in it, is saved (as torch.save).
  ['saves any value', ['save', 'saveBlob']],
  // calculateFans(op, t): the first argument is the name of the op asking, for its messages.
  ['takes an op name first', ['nn.init.calculateFans']],
] as const).flatMap(([why, names]) => names.map((n) => [n, why])));

/** Declares no required parameter, and calling it with nothing is valid: a bad value may act as none. */
const takesNothing = (f: AnyFn) => f.length === 0;

/** Functions whose second argument is an operand (a tensor, or a number where scalars are allowed). */
const SECOND_OPERAND = new Set([
  'add', 'sub', 'mul', 'div', 'pow', 'remainder', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr',
  'matmul', 'outer', 'lerp', 'addmm', 'baddbmm', 'isclose', 'allclose', 'allcloseAsync', 'maskedFill', 'maskedFill_', 'prelu',
  'conv1d', 'conv2d', 'convTranspose1d', 'convTranspose2d', 'embedding', 'scaledDotProductAttention',
  'nn.mseLoss', 'nn.l1Loss', 'nn.smoothL1Loss', 'nn.huberLoss', 'nn.crossEntropy', 'nn.nllLoss', 'nn.binaryCrossEntropy',
  'nn.binaryCrossEntropyWithLogits', 'nn.klDiv', 'nn.cosineEmbeddingLoss',
]);
/** Where the second argument is a file path: a string would write a file, so strings are left out there. */
const SECOND_IS_PATH = new Set(['save']);

interface Report {
  calls: number;
  failures: string[];
  /** The calls that threw, to be made again: repeating them must not grow the live tensors. */
  thrown: (() => unknown)[];
}

/** Makes `call` (a thunk) and records it: a failure line, the call count, and whether it threw. */
async function record(r: Report, thunk: () => unknown, judged: (got: Outcome) => string | null | Promise<string | null>): Promise<void> {
  const got = await outcome(thunk);
  r.calls++;
  if (got.threw) r.thrown.push(thunk);
  const fail = await judged(got);
  if (fail) r.failures.push(fail);
}
const newReport = (): Report => ({ calls: 0, failures: [], thrown: [] });

/** Calls `name` with every bad value first and second. */
async function sweepFunction(name: string, f: AnyFn): Promise<Report> {
  const r = newReport();
  const tensorFirst = !(name in FIRST_MAY_BE_PLAIN) && !takesNothing(f);
  const operandSecond = SECOND_OPERAND.has(name);
  for (const [what, bad] of BAD) {
    // First position: alone, then before a tensor of each rank.
    const rests: [string, () => unknown[]][] = [['', () => []], ...FIXTURES.map(([s, mk]): [string, () => unknown[]] => [`, ${s}`, () => [mk()]])];
    for (const [restDesc, rest] of rests) {
      const call = `${name}(${what}${restDesc})`;
      const args = rest();
      await record(r, () => f(bad, ...args), (got) => (tensorFirst && bad === NUMBER
        ? judgeNumber(call, name, got, () => f(k.tensor(NUMBER), ...args))
        : judge(call, name, got, tensorFirst)));
    }
    // Second position, after a tensor of each rank.
    if (SECOND_IS_PATH.has(name) && typeof bad === 'string') continue;
    for (const [s, mk] of FIXTURES) {
      const call = `${name}(${s}, ${what})`;
      const first = mk();
      await record(r, () => f(first, bad), (got) => (operandSecond && bad === NUMBER
        ? judgeNumber(call, name, got, () => f(first, k.tensor(NUMBER)))
        : judge(call, name, got, operandSecond)));
    }
  }
  return r;
}

// ----- the nn modules -------------------------------------------------------------------------------

interface ModuleCase {
  /** Builds the module with small valid arguments. */
  readonly make: () => nn.Module;
  /** Valid inputs of its forward; each tensor position is replaced by each bad value in turn. */
  readonly inputs: () => unknown[];
}
const img = () => k.randn([1, 3, 4, 4]);
const sig = () => k.randn([1, 3, 6]);
const mat = () => k.randn([2, 4]);
const probs = () => k.rand([2, 4]).mul(0.8).add(0.1);
const cls = () => k.tensor([1, 3], { dtype: 'int32' });
const unary = (make: () => nn.Module, x: () => Tensor = mat): ModuleCase => ({ make, inputs: () => [x()] });
const loss = (make: () => nn.Module, input: () => Tensor = mat, target: () => Tensor = mat): ModuleCase => ({ make, inputs: () => [input(), target()] });

/** Every nn module class, built as the parity tables build them. */
const MODULES: Record<string, ModuleCase> = {
  Linear: unary(() => new nn.Linear(4, 2)),
  ReLU: unary(() => new nn.ReLU()),
  GELU: unary(() => new nn.GELU()),
  Sigmoid: unary(() => new nn.Sigmoid()),
  Tanh: unary(() => new nn.Tanh()),
  LayerNorm: unary(() => new nn.LayerNorm(4)),
  Embedding: unary(() => new nn.Embedding(5, 3), cls),
  Dropout: unary(() => new nn.Dropout(0.5)),
  SiLU: unary(() => new nn.SiLU()),
  ELU: unary(() => new nn.ELU()),
  SELU: unary(() => new nn.SELU()),
  ReLU6: unary(() => new nn.ReLU6()),
  Hardsigmoid: unary(() => new nn.Hardsigmoid()),
  Hardswish: unary(() => new nn.Hardswish()),
  Mish: unary(() => new nn.Mish()),
  Softsign: unary(() => new nn.Softsign()),
  Softplus: unary(() => new nn.Softplus()),
  GLU: unary(() => new nn.GLU()),
  PReLU: unary(() => new nn.PReLU()),
  Softmax: unary(() => new nn.Softmax(-1)),
  LogSoftmax: unary(() => new nn.LogSoftmax(-1)),
  RMSNorm: unary(() => new nn.RMSNorm(4)),
  MultiheadAttention: { make: () => new nn.MultiheadAttention(4, 2, { batchFirst: true }), inputs: () => [k.randn([1, 3, 4]), k.randn([1, 3, 4]), k.randn([1, 3, 4])] },
  Conv1d: unary(() => new nn.Conv1d(3, 2, 3), sig),
  Conv2d: unary(() => new nn.Conv2d(3, 2, 3), img),
  ConvTranspose2d: unary(() => new nn.ConvTranspose2d(3, 2, 3), img),
  MaxPool1d: unary(() => new nn.MaxPool1d(2), sig),
  MaxPool2d: unary(() => new nn.MaxPool2d(2), img),
  AvgPool1d: unary(() => new nn.AvgPool1d(2), sig),
  AvgPool2d: unary(() => new nn.AvgPool2d(2), img),
  AdaptiveAvgPool2d: unary(() => new nn.AdaptiveAvgPool2d(2), img),
  AdaptiveMaxPool2d: unary(() => new nn.AdaptiveMaxPool2d(2), img),
  BatchNorm1d: unary(() => new nn.BatchNorm1d(3), sig),
  BatchNorm2d: unary(() => new nn.BatchNorm2d(3), img),
  GroupNorm: unary(() => new nn.GroupNorm(1, 3), img),
  Flatten: unary(() => new nn.Flatten(), img),
  Unflatten: unary(() => new nn.Unflatten(1, [2, 2])),
  LeakyReLU: unary(() => new nn.LeakyReLU()),
  Dropout2d: unary(() => new nn.Dropout2d(), img),
  MSELoss: loss(() => new nn.MSELoss()),
  L1Loss: loss(() => new nn.L1Loss()),
  SmoothL1Loss: loss(() => new nn.SmoothL1Loss()),
  HuberLoss: loss(() => new nn.HuberLoss()),
  CrossEntropyLoss: loss(() => new nn.CrossEntropyLoss(), mat, cls),
  NLLLoss: loss(() => new nn.NLLLoss(), mat, cls),
  BCELoss: loss(() => new nn.BCELoss(), probs, probs),
  BCEWithLogitsLoss: loss(() => new nn.BCEWithLogitsLoss(), mat, probs),
  KLDivLoss: loss(() => new nn.KLDivLoss(), () => probs().log(), probs),
  CosineEmbeddingLoss: { make: () => new nn.CosineEmbeddingLoss(), inputs: () => [mat(), mat(), k.tensor([1, -1])] },
  ModuleList: { make: () => new nn.ModuleList([new nn.ReLU()]), inputs: () => [mat()] },
  ModuleDict: { make: () => new nn.ModuleDict({ act: new nn.ReLU() }), inputs: () => [mat()] },
  ParameterList: { make: () => new nn.ParameterList([k.zeros([2]).requiresGrad_(true)]), inputs: () => [mat()] },
};
/**
 * Module classes not held to "a bad input names the module": Module is abstract; Identity returns
 * whatever it is given, as torch's; Sequential passes its input to its first module, which names itself
 * (a Sequential may start with a module that takes something other than a tensor).
 */
const MODULES_PASSING_INPUT: Record<string, () => nn.Module> = {
  Identity: () => new nn.Identity(),
  Sequential: () => new nn.Sequential(new nn.Linear(4, 2), new nn.ReLU()),
};

const moduleClasses = () => Object.entries(nn).filter(([, v]) => isClass(v) && v !== nn.Module && (v as { prototype: unknown }).prototype instanceof nn.Module).map(([n]) => n).sort();

async function sweepModule(name: string, c: ModuleCase): Promise<Report> {
  const r = newReport();
  const m = c.make() as nn.Module & AnyFn;
  const n = c.inputs().length;
  for (let pos = 0; pos < n; pos++) {
    for (const [what, bad] of BAD) {
      for (const via of ['forward', 'call'] as const) {
        const args = c.inputs();
        args[pos] = bad;
        const call = `${name}${via === 'forward' ? '.forward' : ''}(${args.map((a, i) => (i === pos ? what : 'tensor')).join(', ')})`;
        await record(r, () => (via === 'forward' ? m.forward(...args) : m(...args)), (got) => judge(call, name, got, true));
      }
    }
  }
  return r;
}

// ----- the Tensor methods ---------------------------------------------------------------------------

/** Every public method of Tensor (internal `_` members and accessors left out). */
function tensorMethods(): string[] {
  const proto = Tensor.prototype as unknown as Record<string, unknown>;
  return Object.getOwnPropertyNames(proto).filter((key) => {
    if (key === 'constructor' || key.startsWith('_')) return false;
    const d = Object.getOwnPropertyDescriptor(proto, key)!;
    return typeof d.value === 'function';
  }).sort();
}
/** Methods whose first argument is an operand (a tensor, or a number where scalars are allowed). */
const METHOD_OPERAND_FIRST = new Set([
  'add', 'sub', 'mul', 'div', 'pow', 'remainder', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr',
  'add_', 'sub_', 'mul_', 'div_', 'matmul', 'expandAs', 'copy_', 'outer', 'lerp', 'lerp_', 'addmm', 'baddbmm', 'isclose', 'allclose',
  'maskedFill', 'maskedFill_',
]);
/** Methods whose second argument, after a dim, is an index tensor. */
const METHOD_INDEX_SECOND = new Set(['gather', 'indexSelect', 'scatter', 'scatterAdd', 'indexAdd', 'scatter_', 'scatterAdd_', 'indexAdd_']);

async function sweepMethod(name: string): Promise<Report> {
  const r = newReport();
  const method = (x: Tensor) => (x as unknown as Record<string, AnyFn>)[name].bind(x);
  const operandFirst = METHOD_OPERAND_FIRST.has(name);
  for (const [what, bad] of BAD) {
    for (const [s, mk] of FIXTURES) {
      const call = `${s}.${name}(${what})`;
      await record(r, () => method(mk())(bad), (got) => (operandFirst && bad === NUMBER
        ? judgeNumber(call, name, got, () => method(mk())(k.tensor(NUMBER)))
        : judge(call, name, got, operandFirst)));
      // Second position, after a dim (0) and after a tensor of the same rank.
      for (const [firstDesc, first] of [['0', () => 0], [s, mk]] as const) {
        const call2 = `${s}.${name}(${firstDesc}, ${what})`;
        await record(r, () => method(mk())(first(), bad), (got) => judge(call2, name, got, firstDesc === '0' && METHOD_INDEX_SECOND.has(name)));
      }
    }
  }
  return r;
}

// ----- the other classes ---------------------------------------------------------------------------

/**
 * Every other class users construct (optimizers, schedulers, datasets, loaders, OnnxModule), by dotted
 * name, with a bad first argument and with a valid-looking first argument and a bad second. Left out:
 * the error classes, Tensor (made by kiln's creation functions, never with `new`), the nn modules
 * (swept through forward above) and optim.Optimizer (the optimizers' base: its constructor is
 * protected).
 */
function otherClasses(): [string, new (...args: unknown[]) => unknown][] {
  const out: [string, new (...args: unknown[]) => unknown][] = [];
  const walk = (ns: object, prefix: string) => {
    for (const [key, v] of Object.entries(ns)) {
      if (isClass(v)) out.push([prefix + key, v as new (...args: unknown[]) => unknown]);
      else if (v !== null && typeof v === 'object' && !Array.isArray(v) && !NOT_NAMESPACES.has(key) && v !== nn) walk(v, `${prefix}${key}.`);
    }
  };
  walk(k, '');
  return out.filter(([name, C]) => !(C.prototype instanceof Error) && C !== Tensor && name !== 'optim.Optimizer').sort((a, b) => a[0].localeCompare(b[0]));
}

async function sweepClass(name: string, C: new (...args: unknown[]) => unknown): Promise<Report> {
  const r = newReport();
  const short = name.split('.').pop()!;
  for (const [what, bad] of BAD) {
    // A plain array is a dataset (DataLoader, Subset); anything else first is refused.
    await record(r, () => new C(bad), (got) => judge(`new ${name}(${what})`, short, got, !Array.isArray(bad)));
    const first = () => [k.ones([2], { requiresGrad: true })];
    await record(r, () => new C(first(), bad), (got) => judge(`new ${name}([tensor], ${what})`, short, got, false));
  }
  return r;
}

// ----- kiln's state after the bad calls ---------------------------------------------------------------

const BACKENDS_CHECKED: BackendName[] = ['cpu', 'wasm'];
const knownGood = new Map<BackendName, (a: Tensor) => Tensor>();

/**
 * After the calls of one report: a known-good computation gives the right answer, eager and compiled,
 * on cpu and wasm; backend, grad mode and tracing are as they were.
 */
async function expectGoodState(after: string): Promise<void> {
  for (const b of BACKENDS_CHECKED) {
    let f = knownGood.get(b);
    if (!f) knownGood.set(b, (f = k.compile((a: Tensor) => a.mul(2).add(1).sum(), { backend: b })));
    const a = k.tensor([1, 2, 3], { backend: b });
    expect(await a.mul(2).add(1).sum().itemAsync(), `eager on ${b} after ${after}`).toBe(15);
    expect(await f(a).itemAsync(), `compiled on ${b} after ${after}`).toBe(15);
  }
  expect(k.currentBackend(), `backend after ${after}`).toBe('wasm');
  expect(k.isGradEnabled(), `grad mode after ${after}`).toBe(true);
  expect(k.isInferenceModeEnabled(), `inference mode after ${after}`).toBe(false);
  expect(k.isCompiling(), `tracing after ${after}`).toBe(false);
}

/** The calls that threw, by the sweep that made them: the leak check makes them again. */
const thrownCalls: [string, (() => unknown)[]][] = [];

/** Makes `calls` once more and returns the live tensors after a collection. */
async function liveAfterRepeating(calls: readonly (() => unknown)[]): Promise<number> {
  for (const thunk of calls) await outcome(thunk);
  collectGarbage();
  return k.memory().numTensors;
}

// ----- the sweep ------------------------------------------------------------------------------------

const counts = { functions: 0, modules: 0, classes: 0, methods: 0, calls: 0 };

describe('bad arguments get a KilnError naming the op, and leave kiln as it was', () => {
  beforeAll(async () => {
    await k.ready();
  });
  afterAll(() => {
    k.manualSeed(0);
    console.log(`[bad arguments] ${counts.functions} functions, ${counts.modules} nn modules, ${counts.classes} other classes, ${counts.methods} Tensor methods; ${counts.calls} calls`);
  });

  it('covers every export: the exclusion lists name only functions that exist, every module class has a case', () => {
    const names = new Set(publicFunctions().map(([n]) => n));
    const methods = new Set(tensorMethods());
    for (const n of [...Object.keys(FIRST_MAY_BE_PLAIN), ...SECOND_OPERAND, ...SECOND_IS_PATH]) expect(names.has(n), n).toBe(true);
    for (const n of Object.keys(ALIASES)) expect(names.has(n) || methods.has(n), n).toBe(true);
    for (const n of [...METHOD_OPERAND_FIRST, ...METHOD_INDEX_SECOND]) expect(methods.has(n), n).toBe(true);
    expect(moduleClasses()).toEqual(Object.keys({ ...MODULES, ...MODULES_PASSING_INPUT }).sort());
    expect(names.size).toBeGreaterThan(200);
  });

  for (const [name, f] of publicFunctions()) {
    it(`kiln.${name}`, async () => {
      const r = await sweepFunction(name, f);
      counts.functions++;
      counts.calls += r.calls;
      thrownCalls.push([`kiln.${name}`, r.thrown]);
      expect(r.failures, `\n${r.failures.join('\n')}\n`).toEqual([]);
      await expectGoodState(`kiln.${name}`);
    });
  }

  for (const [name, c] of Object.entries(MODULES)) {
    it(`nn.${name}`, async () => {
      const r = await sweepModule(name, c);
      counts.modules++;
      counts.calls += r.calls;
      thrownCalls.push([`nn.${name}`, r.thrown]);
      expect(r.failures, `\n${r.failures.join('\n')}\n`).toEqual([]);
      await expectGoodState(`nn.${name}`);
    });
  }
  for (const [name, make] of Object.entries(MODULES_PASSING_INPUT)) {
    it(`nn.${name} passes its input on: no foreign error`, async () => {
      const m = make() as nn.Module & AnyFn;
      const r = newReport();
      for (const [what, bad] of BAD) {
        await record(r, () => m(bad), (got) => (got.threw && !(got.error instanceof KilnError) ? `${name}(${what}): ${describeError(got.error)}` : null));
      }
      counts.modules++;
      counts.calls += r.calls;
      thrownCalls.push([`nn.${name}`, r.thrown]);
      expect(r.failures, `\n${r.failures.join('\n')}\n`).toEqual([]);
      await expectGoodState(`nn.${name}`);
    });
  }

  for (const [name, C] of otherClasses()) {
    it(`new ${name}`, async () => {
      const r = await sweepClass(name, C);
      counts.classes++;
      counts.calls += r.calls;
      thrownCalls.push([`new ${name}`, r.thrown]);
      expect(r.failures, `\n${r.failures.join('\n')}\n`).toEqual([]);
      await expectGoodState(`new ${name}`);
    });
  }

  for (const name of tensorMethods()) {
    it(`Tensor.${name}`, async () => {
      const r = await sweepMethod(name);
      counts.methods++;
      counts.calls += r.calls;
      thrownCalls.push([`Tensor.${name}`, r.thrown]);
      expect(r.failures, `\n${r.failures.join('\n')}\n`).toEqual([]);
      await expectGoodState(`Tensor.${name}`);
    });
  }

  // Last: the failed calls leak nothing. Caches of constants fill on the first round, so the live
  // tensors after one more round are compared with those after two more; where they grew, each
  // sweep's calls are repeated alone to name the ones that leak.
  it('repeating every call that threw leaves no more live tensors', async () => {
    const all = thrownCalls.flatMap(([, calls]) => calls);
    expect(all.length).toBeGreaterThan(1000);
    const once = await liveAfterRepeating(all);
    await liveAfterRepeating(all);
    const thrice = await liveAfterRepeating(all);
    if (thrice > once) {
      const leaking: string[] = [];
      for (const [name, calls] of thrownCalls) {
        const a = await liveAfterRepeating(calls);
        const b = await liveAfterRepeating(calls);
        if (b > a) leaking.push(`${name}: ${a} -> ${b}`);
      }
      expect.fail(`live tensors grew from ${once} to ${thrice} over two rounds of ${all.length} failed calls; growing alone: ${leaking.join('; ')}`);
    }
  });
});

