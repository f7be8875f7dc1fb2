// Loaded by `kiln dump` (node --import, after tsx) before the user's script, so that the script
// uses the very kiln the recorder runs (KILN_ONE_KILN: 'src', the TypeScript sources of a checkout
// under tsx, or 'dist', the compiled package). A script that imports 'kiln' (dist/, through
// package.json) while the recorder runs the sources, or requires it under tsx (whose require hook
// compiles ES modules to CommonJS, a second copy), would otherwise get a kiln whose compiled
// functions the recorder never sees.
//  - ES imports: a resolve hook (one-kiln-hooks.mjs) maps kiln's modules to the recorder's copy.
//  - require(): the recorder publishes its kiln namespace (globalThis[Symbol.for('kiln.one')]);
//    require of kiln's entry, from either copy, returns it, as require(esm) would.
import Module, { register } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const flavor = process.env.KILN_ONE_KILN;
if (flavor === 'src' || flavor === 'dist') {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  register('./one-kiln-hooks.mjs', import.meta.url, { data: { root: pathToFileURL(root).href + '/', flavor } });

  const entries = new Set([join(root, 'dist', 'src', 'index.js'), join(root, 'src', 'index.ts')]);
  const ONE = Symbol.for('kiln.one');
  const load = Module._load;
  Module._load = function (request, parent, isMain) {
    const one = globalThis[ONE];
    if (one && !isMain) {
      let file = null;
      try { file = Module._resolveFilename(request, parent, isMain); } catch { /* load() reports it */ }
      if (file !== null && entries.has(file)) return one;
    }
    return load.apply(this, arguments);
  };
}
