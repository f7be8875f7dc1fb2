// compile() in all its forms: a function, an nn.Module, or a method decorator.
import type { Tensor } from '../src/tensor.js';
import { Module } from '../src/nn/module.js';
import { compileFunction, resetCompileCache, type CompileOptions, type Compiled } from './compile.js';
import { clearPlans } from './execute.js';
import { onReleaseMemory } from '../src/memory.js';
import { checkCompileOptions } from './options.js';
import { KilnError } from '../src/core/errors.js';
import { describeValue } from '../src/core/validate.js';

// kiln.releaseMemory() drops compiled plans (and with them their kernels): functions re-plan on their next call.
onReleaseMemory(() => { clearPlans(); resetCompileCache(); });

type AnyFn = (...args: any[]) => any;

/**
 * compile(fn, opts) -> compiled function; compile(model, opts) -> the model with a compiled forward;
 * compile(opts) or compile used bare -> a method decorator (TC39 standard decorators).
 */
export function compile<F extends AnyFn>(fn: F, opts?: CompileOptions): Compiled<F>;
export function compile<M extends Module>(model: M, opts?: CompileOptions): M;
export function compile(opts?: CompileOptions): <F extends AnyFn>(method: F, context: ClassMethodDecoratorContext) => F;
export function compile<F extends AnyFn>(method: F, context: ClassMethodDecoratorContext): F;
export function compile(target?: unknown, second?: unknown): unknown {
  // Modules are callable (functions) too: tell them apart first.
  if (target instanceof Module) return compileModule(target, second as CompileOptions);
  if (typeof target === 'function' && second && typeof second === 'object' && (second as { kind?: string }).kind === 'method') {
    return decorate(target as AnyFn, {});
  }
  if (typeof target === 'function') return compileFunction(target as AnyFn, second as CompileOptions);
  if (target !== undefined && (target === null || typeof target !== 'object' || Array.isArray(target))) {
    throw new KilnError(`compile: expected a function, an nn.Module or an options object, got ${describeValue(target)}`);
  }
  const opts = checkCompileOptions(target);
  return (method: AnyFn, _context: ClassMethodDecoratorContext) => decorate(method, opts);
}

/** One compiled function per method; `this` is part of its guards (each instance has its weights). */
function decorate(method: AnyFn, opts: CompileOptions): AnyFn {
  const compiled = compileFunction(method, opts);
  const wrapper = function (this: unknown, ...args: unknown[]) { return compiled.apply(this, args); };
  Object.defineProperty(wrapper, 'name', { value: method.name });
  return Object.assign(wrapper, { cacheInfo: compiled.cacheInfo, _state: compiled._state });
}

/** Replaces the module's forward with a compiled one (its parameters become captured graph inputs). */
function compileModule<M extends Module>(model: M, opts: CompileOptions = {}): M {
  const forward = model.forward.bind(model) as (...args: unknown[]) => Tensor;
  const compiled = compileFunction(function forwardCompiled(...args: unknown[]) { return forward(...args); }, opts);
  (model as { forward: AnyFn }).forward = compiled;
  return model;
}

declare module '../src/nn/module.js' {
  interface Module {
    /** Compiles this module's forward in place (see compile()). */
    compile(opts?: CompileOptions): this;
  }
}
Module.prototype.compile = function (this: Module, opts?: CompileOptions) { return compileModule(this, opts); };

export { explain } from './explain.js';
export type { Explanation } from './explain.js';
export { resetCompileCache, isCompiling, graphBreak, compiledRegistry } from './compile.js';
export type { CompileOptions, Compiled, CacheInfo } from './compile.js';
export { GraphBreakError } from './trace.js';
export { printGraph, printGraphTable } from './graph.js';
export { setLogs, LOG_NAMES } from './logs.js';
