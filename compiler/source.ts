// Source-level facts for compile(): where a traced op or a break came from (the user's file:line),
// and, by parsing the function with acorn, what it reads and writes besides its arguments: side
// effects to report, and whether it is closed (reads nothing but its arguments and pure built-ins),
// the one case where a cache hit may skip its JavaScript without the user saying so.
import * as acorn from 'acorn';

// callerLocation lives in location.ts (stack frames, source maps); re-exported for its users here.
export { callerLocation } from './location.js';

/** A reason the function cannot be replayed without running its JavaScript. */
export interface SideEffect { readonly what: string; readonly line: number }

type AnyNode = acorn.Node & Record<string, any>;

function walk(node: AnyNode, visit: (n: AnyNode, parents: AnyNode[]) => void, parents: AnyNode[] = []): void {
  visit(node, parents);
  for (const key of Object.keys(node)) {
    const v = node[key];
    if (key === 'parent') continue;
    if (Array.isArray(v)) v.forEach((c) => c && typeof c.type === 'string' && walk(c, visit, [...parents, node]));
    else if (v && typeof v === 'object' && typeof v.type === 'string') walk(v, visit, [...parents, node]);
  }
}

function parseFunction(src: string): AnyNode | null {
  const attempts = [`(${src})`, `({ ${src} })`, `(function ${src})`, `(async function ${src})`];
  for (const code of attempts) {
    try { return acorn.parseExpressionAt(code, 0, { ecmaVersion: 'latest' }) as AnyNode; } catch { /* try the next form */ }
  }
  return null;
}

/** Names declared inside the function (parameters, let/const/var, inner functions). */
function localNames(fn: AnyNode): Set<string> {
  const names = new Set<string>();
  const addPattern = (p: AnyNode | null): void => {
    if (!p) return;
    if (p.type === 'Identifier') names.add(p.name);
    else if (p.type === 'ObjectPattern') p.properties.forEach((q: AnyNode) => addPattern(q.type === 'RestElement' ? q.argument : q.value));
    else if (p.type === 'ArrayPattern') p.elements.forEach(addPattern);
    else if (p.type === 'AssignmentPattern') addPattern(p.left);
    else if (p.type === 'RestElement') addPattern(p.argument);
  };
  walk(fn, (n) => {
    if (n.type === 'VariableDeclarator') addPattern(n.id);
    if (n.type.includes('Function')) { n.params?.forEach(addPattern); if (n.id) addPattern(n.id); }
  });
  return names;
}

/**
 * Side effects that whole-graph replay would lose: console/Math.random/Date/performance calls, and
 * writes (assignments, updates, push/pop/... calls) to variables not declared in the function.
 * Returns null when the source cannot be parsed (e.g. native code), which counts as unknown.
 */
export function findSideEffects(fn: (...args: any[]) => unknown): SideEffect[] | null {
  const src = Function.prototype.toString.call(fn);
  if (src.includes('[native code]')) return null;
  const ast = parseFunction(src);
  if (!ast) return null;
  const root = ast.type === 'ObjectExpression' ? ast.properties[0]?.value : ast;
  if (!root) return null;
  const locals = localNames(root);
  const lineOf = (n: AnyNode) => src.slice(0, n.start).split('\n').length - 1 + 1;
  const effects: SideEffect[] = [];
  const rootName = (e: AnyNode): string | null => {
    while (e.type === 'MemberExpression') e = e.object;
    return e.type === 'Identifier' ? e.name : e.type === 'ThisExpression' ? 'this' : null;
  };
  // Array mutators only: set/add/delete/clear are also tensor and module methods (x.add(y)).
  const MUTATORS = ARRAY_MUTATORS;
  walk(root, (n) => {
    if (n.type === 'CallExpression' && n.callee.type === 'MemberExpression') {
      const obj = rootName(n.callee);
      const prop = n.callee.property?.name;
      if (obj === 'console') effects.push({ what: `console.${prop}()`, line: lineOf(n) });
      else if (obj === 'Math' && prop === 'random') effects.push({ what: 'Math.random()', line: lineOf(n) });
      else if ((obj === 'Date' && prop === 'now') || obj === 'performance') effects.push({ what: `${obj}.${prop}()`, line: lineOf(n) });
      else if (obj && !locals.has(obj) && MUTATORS.has(prop) && obj !== 'this') effects.push({ what: `${obj}.${prop}() on an outer variable`, line: lineOf(n) });
    }
    if (n.type === 'NewExpression' && n.callee.type === 'Identifier' && n.callee.name === 'Date') effects.push({ what: 'new Date()', line: lineOf(n) });
    if (n.type === 'AssignmentExpression' || n.type === 'UpdateExpression') {
      const target = n.type === 'AssignmentExpression' ? n.left : n.argument;
      const name = rootName(target);
      // Writes to tensors' .grad are tracked by the tracer itself; other outer writes are side effects.
      const isGrad = target.type === 'MemberExpression' && target.property?.name === 'grad';
      if (name && !locals.has(name) && !isGrad) effects.push({ what: `write to outer variable ${name}`, line: lineOf(n) });
    }
  });
  return effects;
}

const ARRAY_MUTATORS = new Set(['push', 'pop', 'shift', 'unshift', 'splice', 'sort', 'reverse', 'fill', 'copyWithin']);
/** Globals that hold no state a function could read differently on another call. */
const PURE_GLOBALS = new Set(['Math', 'Number', 'Infinity', 'NaN', 'undefined', 'Array', 'Object', 'JSON', 'String', 'Boolean',
  'isFinite', 'isNaN', 'parseInt', 'parseFloat', 'Map', 'Set', 'Symbol', 'BigInt', 'Error', 'TypeError', 'RangeError']);
/** Members of those globals that read or change state. */
const IMPURE_MEMBERS = new Set(['Math.random', 'Object.assign', 'Object.defineProperty', 'Object.defineProperties',
  'Object.setPrototypeOf', 'Object.freeze', 'Object.seal', 'Object.preventExtensions']);
/** Tensor and module methods that change JavaScript-visible state outside the graph. */
const STATEFUL_METHODS = new Set(['requiresGrad_', 'retainGrad', 'dispose', 'backward', 'zeroGrad', 'train', 'eval', 'loadStateDict']);

/** Whether a function reads nothing but its arguments (then a cache hit may skip its JavaScript). */
export interface Closure {
  readonly closed: boolean;
  /** Why not (the first reason, with its line), or null. */
  readonly why: string | null;
}

type Scope = { readonly names: Set<string>; readonly fresh: Set<string>; readonly parent: Scope | null };

/**
 * Decides whether `fn` is closed: no free variables but pure built-ins, no `this`, no await/yield,
 * no writes to properties of anything but fresh local objects, no array mutators on anything but
 * fresh local arrays, no stateful tensor methods. Scopes are resolved as JavaScript does (blocks,
 * functions, hoisting), so a shadowed name is not mistaken for a local.
 */
export function analyzeClosure(fn: (...args: any[]) => unknown): Closure {
  const src = Function.prototype.toString.call(fn);
  if (src.includes('[native code]')) return { closed: false, why: 'its source is not available (a native or bound function)' };
  const ast = parseFunction(src);
  const root = ast && (ast.type === 'ObjectExpression' ? ast.properties[0]?.value : ast);
  if (!root) return { closed: false, why: 'its source could not be parsed' };
  const lineOf = (n: AnyNode) => src.slice(0, n.start).split('\n').length;
  let why: string | null = null;
  const fail = (what: string, n: AnyNode) => { why ??= `${what} (line ${lineOf(n)})`; };
  const declare = (p: AnyNode | null, into: Set<string>): void => {
    if (!p) return;
    if (p.type === 'Identifier') into.add(p.name);
    else if (p.type === 'ObjectPattern') p.properties.forEach((q: AnyNode) => declare(q.type === 'RestElement' ? q.argument : q.value, into));
    else if (p.type === 'ArrayPattern') p.elements.forEach((e: AnyNode | null) => declare(e, into));
    else if (p.type === 'AssignmentPattern') declare(p.left, into);
    else if (p.type === 'RestElement') declare(p.argument, into);
  };
  /** var and function declarations hoisted to a function body (not entering nested functions). */
  const hoist = (body: AnyNode, into: Set<string>): void => {
    const visit = (n: AnyNode | null): void => {
      if (!n || typeof n.type !== 'string') return;
      if (n.type === 'VariableDeclaration' && n.kind === 'var') n.declarations.forEach((d: AnyNode) => declare(d.id, into));
      if (n.type === 'FunctionDeclaration') { if (n.id) into.add(n.id.name); return; }
      if (n.type.includes('Function') || n.type === 'ClassExpression' || n.type === 'ClassDeclaration') return;
      for (const k of Object.keys(n)) {
        const v = n[k];
        if (Array.isArray(v)) v.forEach(visit);
        else if (v && typeof v === 'object' && typeof v.type === 'string') visit(v);
      }
    };
    visit(body);
  };
  /** let/const/class/function declared directly in a block. */
  const blockNames = (stmts: AnyNode[], scope: Scope): void => {
    for (const st of stmts) {
      if (st.type === 'VariableDeclaration' && st.kind !== 'var') {
        for (const d of st.declarations) {
          declare(d.id, scope.names);
          const fresh = st.kind === 'const' && d.id.type === 'Identifier' && d.init && ['ArrayExpression', 'ObjectExpression', 'NewExpression', 'CallExpression'].includes(d.init.type);
          if (fresh) scope.fresh.add(d.id.name);
        }
      }
      if ((st.type === 'ClassDeclaration' || st.type === 'FunctionDeclaration') && st.id) scope.names.add(st.id.name);
    }
  };
  const lookup = (name: string, scope: Scope | null): Scope | null => {
    for (let s = scope; s; s = s.parent) if (s.names.has(name)) return s;
    return null;
  };
  const rootOf = (e: AnyNode): AnyNode => { while (e.type === 'MemberExpression' || e.type === 'ChainExpression') e = e.type === 'ChainExpression' ? e.expression : e.object; return e; };
  /** A receiver rooted at a const local made fresh in this call (an array or object literal, a call result). */
  const freshLocal = (e: AnyNode, scope: Scope): boolean => {
    const r = rootOf(e);
    if (r.type !== 'Identifier') return false;
    const s = lookup(r.name, scope);
    return !!s && s.fresh.has(r.name);
  };
  const memberName = (m: AnyNode): string | null => (m.computed ? (m.property.type === 'Literal' ? String(m.property.value) : null) : m.property.name);

  const fnScope = (f: AnyNode, parent: Scope | null): Scope => {
    const scope: Scope = { names: new Set(), fresh: new Set(), parent };
    f.params.forEach((p: AnyNode) => declare(p, scope.names));
    if (f.type === 'FunctionExpression' && f.id) scope.names.add(f.id.name);
    if (f.type !== 'ArrowFunctionExpression') scope.names.add('arguments');
    if (f.body.type === 'BlockStatement') { hoist(f.body, scope.names); blockNames(f.body.body, scope); }
    return scope;
  };
  const walkPattern = (p: AnyNode | null, scope: Scope): void => {
    if (!p) return;
    if (p.type === 'AssignmentPattern') { walkPattern(p.left, scope); visit(p.right, scope); }
    else if (p.type === 'ObjectPattern') p.properties.forEach((q: AnyNode) => { if (q.computed) visit(q.key, scope); walkPattern(q.type === 'RestElement' ? q.argument : q.value, scope); });
    else if (p.type === 'ArrayPattern') p.elements.forEach((e: AnyNode | null) => walkPattern(e, scope));
    else if (p.type === 'RestElement') walkPattern(p.argument, scope);
  };
  const visitAll = (ns: (AnyNode | null)[], scope: Scope) => ns.forEach((n) => visit(n, scope));
  function visit(n: AnyNode | null, scope: Scope): void {
    if (!n || typeof n.type !== 'string' || why) return;
    switch (n.type) {
      case 'Identifier':
        if (!lookup(n.name, scope) && !PURE_GLOBALS.has(n.name)) fail(`reads ${n.name}, a variable from outside the function that may change or be re-bound`, n);
        return;
      case 'ThisExpression': case 'Super': return fail('uses this', n);
      case 'AwaitExpression': case 'YieldExpression': return fail('awaits or yields', n);
      case 'ImportExpression': case 'MetaProperty': return fail('uses import or new.target', n);
      case 'WithStatement': return fail('uses with', n);
      case 'FunctionDeclaration': case 'FunctionExpression': case 'ArrowFunctionExpression': {
        if (n.async || n.generator) return fail('defines an async function or a generator', n);
        const s = fnScope(n, scope);
        n.params.forEach((p: AnyNode) => walkPattern(p, s));
        return visit(n.body, s);
      }
      case 'ClassDeclaration': case 'ClassExpression': return fail('defines a class', n);
      case 'BlockStatement': case 'StaticBlock': {
        const s: Scope = { names: new Set(), fresh: new Set(), parent: scope };
        blockNames(n.body, s);
        return visitAll(n.body, s);
      }
      case 'ForStatement': case 'ForInStatement': case 'ForOfStatement': {
        const s: Scope = { names: new Set(), fresh: new Set(), parent: scope };
        const head = n.type === 'ForStatement' ? n.init : n.left;
        if (head?.type === 'VariableDeclaration' && head.kind !== 'var') head.declarations.forEach((d: AnyNode) => declare(d.id, s.names));
        return visitAll([n.init, n.test, n.update, n.left, n.right, n.body], s);
      }
      case 'SwitchStatement': {
        const s: Scope = { names: new Set(), fresh: new Set(), parent: scope };
        n.cases.forEach((c: AnyNode) => blockNames(c.consequent, s));
        visit(n.discriminant, s);
        return n.cases.forEach((c: AnyNode) => { visit(c.test, s); visitAll(c.consequent, s); });
      }
      case 'CatchClause': {
        const s: Scope = { names: new Set(), fresh: new Set(), parent: scope };
        declare(n.param, s.names);
        walkPattern(n.param, s);
        return visit(n.body, s);
      }
      case 'VariableDeclaration': return n.declarations.forEach((d: AnyNode) => { walkPattern(d.id, scope); visit(d.init, scope); });
      case 'MemberExpression': {
        const name = memberName(n);
        if (n.object.type === 'Identifier' && PURE_GLOBALS.has(n.object.name) && !lookup(n.object.name, scope) && IMPURE_MEMBERS.has(`${n.object.name}.${name}`)) {
          return fail(`calls ${n.object.name}.${name}`, n);
        }
        visit(n.object, scope);
        if (n.computed) visit(n.property, scope);
        return;
      }
      case 'Property': case 'PropertyDefinition': case 'MethodDefinition':
        if (n.computed) visit(n.key, scope);
        return visit(n.value, scope);
      case 'LabeledStatement': return visit(n.body, scope);
      case 'BreakStatement': case 'ContinueStatement': return;
      case 'AssignmentExpression': case 'UpdateExpression': {
        const target = n.type === 'AssignmentExpression' ? n.left : n.argument;
        if ((target.type === 'MemberExpression' || target.type === 'ChainExpression') && !freshLocal(target, scope)) return fail('writes a property of an object it did not create', n);
        if (target.type === 'Identifier' || target.type === 'MemberExpression') visit(target, scope);
        else {
          // Destructuring assignment: every target must be a local (or a fresh local's property).
          const names = new Set<string>();
          declare(target, names);
          for (const name of names) if (!lookup(name, scope)) return fail(`assigns ${name}, a variable from outside the function`, n);
          let member = false;
          walk(target, (m) => { if (m.type === 'MemberExpression' && !freshLocal(m, scope)) member = true; });
          if (member) return fail('writes a property of an object it did not create', n);
          walkPattern(target, scope);
        }
        if (n.type === 'AssignmentExpression') visit(n.right, scope);
        return;
      }
      case 'UnaryExpression':
        if (n.operator === 'delete' && !freshLocal(n.argument, scope)) return fail('deletes a property of an object it did not create', n);
        return visit(n.argument, scope);
      case 'CallExpression': case 'NewExpression': {
        const callee = n.callee.type === 'ChainExpression' ? n.callee.expression : n.callee;
        if (callee.type === 'MemberExpression') {
          const name = memberName(callee);
          if (name && STATEFUL_METHODS.has(name)) return fail(`calls .${name}(), which changes state outside the graph`, n);
          if (name && ARRAY_MUTATORS.has(name) && !freshLocal(callee.object, scope)) return fail(`calls .${name}() on an array it did not create`, n);
        }
        visit(n.callee, scope);
        return visitAll(n.arguments, scope);
      }
      default:
        for (const k of Object.keys(n)) {
          if (k === 'type' || k === 'start' || k === 'end' || k === 'loc' || k === 'range') continue;
          const v = n[k];
          if (Array.isArray(v)) visitAll(v, scope);
          else if (v && typeof v === 'object' && typeof v.type === 'string') visit(v, scope);
        }
    }
  }
  visit(root, null as unknown as Scope);
  return why ? { closed: false, why } : { closed: true, why: null };
}
