// Module resolve hook for `kiln dump` (registered by one-kiln.mjs): maps kiln's own modules to one
// copy. With flavor 'src', dist/{src,compiler,backends}/X.js becomes {src,compiler,backends}/X.ts
// (resolved again, so tsx loads it); with 'dist', the reverse.
let root = '';
let flavor = '';

export function initialize(data) {
  root = data.root;
  flavor = data.flavor;
}

const DIST_MODULE = /^dist\/((?:src|compiler|backends)\/.+)\.js$/;
const SRC_MODULE = /^((?:src|compiler|backends)\/.+)\.ts$/;

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (!resolved.url.startsWith(root)) return resolved;
  const rel = resolved.url.slice(root.length);
  const m = flavor === 'src' ? DIST_MODULE.exec(rel) : SRC_MODULE.exec(rel);
  if (!m) return resolved;
  const url = flavor === 'src' ? `${root}${m[1]}.ts` : `${root}dist/${m[1]}.js`;
  return next(url, context);
}
