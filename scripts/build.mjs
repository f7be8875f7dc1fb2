#!/usr/bin/env node
// Builds dist/ (npm run build; also npm's `prepare`, which runs on `npm ci` / `npm install` in a
// checkout, before `npm pack`, and when npm installs kiln from git). dist/ is emptied first so that no
// module removed from the sources is shipped.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let tsc;
try {
  tsc = join(dirname(createRequire(join(root, 'package.json')).resolve('typescript/package.json')), 'bin', 'tsc');
} catch {
  // A path install (`npm install ../kiln`) links the folder as it is and runs this without installing
  // its dependencies there: the checkout must be installed first.
  console.error(`kiln: cannot build ${root}: its dependencies are not installed (TypeScript is missing).\n` +
    `Run \`npm ci\` in ${root} first (it builds dist/), then install it again.`);
  process.exit(1);
}
rmSync(join(root, 'dist'), { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
if (r.status !== 0 || !existsSync(join(root, 'dist', 'src', 'index.js'))) {
  console.error('kiln: the build failed (see the errors above)');
  process.exit(r.status || 1);
}
