// Source-level facts for compile(): where a traced op or a break came from (the user's file:line),
// and, by parsing the function with acorn, whether its body has side effects that a whole-graph
// replay (which skips the JavaScript) would drop.
import * as acorn from 'acorn';

// kiln's own folders, found from this file's location (compiler/ or dist/compiler/), so frames in
// kiln are skipped at any depth without mistaking a user's own src/ folder for kiln's.
const ROOT = (() => {
  try { return new URL('..', import.meta.url).pathname.replace(/\/$/, ''); } catch { return null; }
})();
const KILN_DIRS = ROOT ? ['src', 'compiler', 'backends'].map((d) => `${ROOT}/${d}/`) : [];
const isInternal = (file: string): boolean =>
  KILN_DIRS.some((d) => file.startsWith(d)) || file.startsWith('node:') || /[\\/]node_modules[\\/]/.test(file);

/** file:line of the first stack frame outside kiln (the user's code), or undefined. */
export function callerLocation(): string | undefined {
  const stack = new Error().stack?.split('\n').slice(2) ?? [];
  for (const frame of stack) {
    const m = frame.match(/\(?((?:file:\/\/)?[^()\s]+):(\d+):\d+\)?$/);
    if (!m) continue;
    const path = m[1].replace(/^file:\/\//, '');
    if (isInternal(path)) continue;
    const file = path.split(/[\\/]/).slice(-2).join('/');
    return `${file}:${m[2]}`;
  }
  return undefined;
}

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
  const MUTATORS = new Set(['push', 'pop', 'shift', 'unshift', 'splice', 'set', 'add', 'delete', 'clear', 'sort', 'reverse', 'fill']);
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
