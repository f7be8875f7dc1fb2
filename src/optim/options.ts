// Optimizer options: the table each optimizer declares (name, kind, default, torch's validity rule),
// and the checks that turn a bad value into a KilnError naming the optimizer and the option.
import { KilnError } from '../core/errors.js';

/** How an option is checked (torch's rules, plus finiteness: a NaN or infinite value is never meant). */
export type NumberRule =
  /** finite and >= 0 (lr, eps, weightDecay, momentum, ...) */
  | 'nonNegative'
  /** finite, in [0, 1] */
  | 'unitClosed'
  /** finite */
  | 'finite';

export type OptionSpec =
  | { readonly kind: 'number'; readonly name: string; readonly default: number; readonly rule: NumberRule }
  | { readonly kind: 'boolean'; readonly name: string; readonly default: boolean; readonly structural: true }
  /** Adam's (beta1, beta2): each in [0, 1). */
  | { readonly kind: 'betas'; readonly name: string; readonly default: readonly [number, number] };

/** A value an option can hold. */
export type OptionValue = number | boolean | readonly [number, number];

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const fmt = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? `[${v.join(', ')}]` : String(v));

/** Checks one option value; returns it normalised (betas as a frozen pair). */
export function checkOption(owner: string, spec: OptionSpec, v: unknown): OptionValue {
  switch (spec.kind) {
    case 'number': {
      if (typeof v !== 'number') throw new KilnError(`${owner}: ${spec.name} must be a number, got ${typeof v === 'object' ? fmt(v) : typeof v} ${typeof v === 'object' ? '' : fmt(v)}`.trimEnd());
      const bad = !Number.isFinite(v) || (spec.rule === 'nonNegative' && v < 0) || (spec.rule === 'unitClosed' && (v < 0 || v > 1));
      if (bad) {
        const want = spec.rule === 'nonNegative' ? 'a finite number >= 0' : spec.rule === 'unitClosed' ? 'a number in [0, 1]' : 'a finite number';
        throw new KilnError(`${owner}: ${spec.name} must be ${want}, got ${v}`);
      }
      return v;
    }
    case 'boolean':
      if (typeof v !== 'boolean') throw new KilnError(`${owner}: ${spec.name} must be true or false, got ${fmt(v)}`);
      return v;
    case 'betas': {
      if (!Array.isArray(v) || v.length !== 2) throw new KilnError(`${owner}: ${spec.name} must be a pair [beta1, beta2], got ${fmt(v)}`);
      v.forEach((b, i) => {
        if (typeof b !== 'number' || !(b >= 0 && b < 1)) throw new KilnError(`${owner}: ${spec.name}[${i}] must be a number in [0, 1), got ${fmt(b)}`);
      });
      return Object.freeze([v[0], v[1]] as const);
    }
  }
}

/**
 * Resolves the options a group gets: `given` over `base`, each checked. Unknown keys are an error in
 * constructor options (`strict`); a param group may carry extra keys of its own (returned as `extra`),
 * except the snake_case spelling of an option (a torch habit that would otherwise be silently ignored).
 */
export function resolveOptions(owner: string, specs: readonly OptionSpec[], given: Record<string, unknown>, base: Record<string, OptionValue>, strict: boolean): { values: Record<string, OptionValue>; extra: Record<string, unknown> } {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const bySnake = new Map(specs.filter((s) => snake(s.name) !== s.name).map((s) => [snake(s.name), s.name]));
  const values: Record<string, OptionValue> = { ...base };
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(given)) {
    if (k === 'params' || v === undefined) continue;
    const spec = byName.get(k);
    if (spec) { values[k] = checkOption(owner, spec, v); continue; }
    const camel = bySnake.get(k);
    if (camel) throw new KilnError(`${owner}: unknown option ${k}; kiln spells it ${camel}`);
    if (strict) throw new KilnError(`${owner}: unknown option ${k} (options: ${specs.map((s) => s.name).join(', ')})`);
    extra[k] = v;
  }
  return { values, extra };
}

/** The defaults of a spec table. */
export function defaultsOf(specs: readonly OptionSpec[]): Record<string, OptionValue> {
  return Object.fromEntries(specs.map((s) => [s.name, s.default]));
}

/** snake_case -> camelCase for option and state names read from a torch-style state dict. */
export function camelCase(s: string): string {
  return s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Options shared by several optimizers. */
export const LR = (d: number): OptionSpec => ({ kind: 'number', name: 'lr', default: d, rule: 'nonNegative' });
export const WEIGHT_DECAY = (d = 0): OptionSpec => ({ kind: 'number', name: 'weightDecay', default: d, rule: 'nonNegative' });
export const EPS = (d: number): OptionSpec => ({ kind: 'number', name: 'eps', default: d, rule: 'nonNegative' });
export const MAXIMIZE: OptionSpec = { kind: 'boolean', name: 'maximize', default: false, structural: true };
