// kiln as a user gets it: `npm pack` (which runs `prepare`, the build), the tarball installed into a
// fresh project outside the repository (from npm's cache where it can: --prefer-offline), then an ES
// module script, a CommonJS script, `tsc --noEmit` with and without @types/node, graph-break
// locations under node, node --enable-source-maps and tsx, and the CLI (`kiln --help`, `kiln dump` of
// scripts that import or require the installed kiln, `kiln bench`). Then the same from the
// repository's path (`npm install /path/to/kiln`, which links the checkout).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
const typesNode = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')).devDependencies['@types/node'] as string;

let tmp = '';
let app = '';

/** Runs a command; resolves with its exit code and output (never rejects on a non-zero exit). */
async function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const r = await run(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
    return { code: 0, out: `${r.stdout}\n${r.stderr}` };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, out: `${err.stdout ?? ''}\n${err.stderr ?? ''}` };
  }
}

const write = (file: string, text: string, dir = app) => fs.writeFileSync(path.join(dir, file), text);

/** A script whose compiled function breaks at `item()` on line 5; prints explain()'s break locations. */
const LOC_SCRIPT = `import * as kiln from 'kiln';
kiln.setBackend('cpu');
const step = (x) => {
  const h = x.mul(2);
  return h.sum().item() > 0 ? h.add(1) : h;
};
console.log(JSON.stringify(kiln.explain(step, kiln.ones([3])).breaks.map((b) => b.loc)));
`;
const LOC_SCRIPT_TS = LOC_SCRIPT.replace('(x) =>', '(x: kiln.Tensor) =>').replace('h.sum().item() > 0', '(h.sum().item() as number) > 0');

/** Runs the location script as `file` under each runner; returns the break locations each printed. */
async function breakLocations(dir: string, file: string, runners: string[][]): Promise<string[][]> {
  write(file, file.endsWith('.ts') ? LOC_SCRIPT_TS : LOC_SCRIPT, dir);
  const out: string[][] = [];
  for (const flags of runners) {
    const r = await sh(process.execPath, [...flags, file], dir);
    expect(r.code, `${flags.join(' ')} ${file}: ${r.out}`).toBe(0);
    out.push(JSON.parse(r.out.trim().split('\n')[0]));
  }
  return out;
}

const SCRIPT_BODY = `
  await kiln.ready();
  const f = kiln.compile((x) => x.mul(2).add(1).relu());
  console.log(JSON.stringify({ y: f(kiln.tensor([-3, 0.5, 2])).toArray(), backend: kiln.currentBackend(), traces: f.cacheInfo().traces }));`;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-pack-'));
  const packed = await sh(npm, ['pack', '--pack-destination', tmp, '--no-audit', '--no-fund'], repo);
  expect(packed.code, packed.out).toBe(0);
  const tarball = fs.readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  expect(tarball, packed.out).toBeDefined();
  app = path.join(tmp, 'app');
  fs.mkdirSync(app);
  // What `npm init -y` writes with npm 11: a CommonJS package.
  write('package.json', JSON.stringify({ name: 'kiln-user', version: '1.0.0', private: true, type: 'commonjs' }, null, 2));
  const installed = await sh(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=optional', path.join(tmp, tarball!), `@types/node@${typesNode}`], app);
  expect(installed.code, installed.out).toBe(0);
}, 600_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the packed tarball installed into a fresh project', () => {
  it('ships the built library and the CLI, not the sources or tests', () => {
    const pkg = path.join(app, 'node_modules', 'kiln');
    for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/bin/dump.js', 'dist/bench/run.js', 'bin/kiln.mjs']) {
      expect(fs.existsSync(path.join(pkg, f)), f).toBe(true);
    }
    for (const f of ['src', 'test', 'examples', 'dist/examples', 'dist/test']) expect(fs.existsSync(path.join(pkg, f)), f).toBe(false);
  });

  it('its prepare script, if npm runs it in the installed package, leaves the shipped build alone', async () => {
    const pkg = path.join(app, 'node_modules', 'kiln');
    const before = fs.statSync(path.join(pkg, 'dist', 'src', 'index.js')).mtimeMs;
    const r = await sh(npm, ['run', 'prepare'], pkg);
    expect(r.code, r.out).toBe(0);
    expect(fs.statSync(path.join(pkg, 'dist', 'src', 'index.js')).mtimeMs).toBe(before);
  });

  it('an ES module imports it', async () => {
    write('esm.mjs', `import * as kiln from 'kiln';\n${SCRIPT_BODY}\n`);
    const r = await sh(process.execPath, ['esm.mjs'], app);
    expect(r.code, r.out).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n')[0])).toEqual({ y: [0, 2, 5], backend: 'wasm', traces: 1 });
  });

  it('a CommonJS module requires it (one instance with import())', async () => {
    write('cjs.cjs', `const kiln = require('kiln');\n(async () => {${SCRIPT_BODY}\n  console.log('same instance', (await import('kiln')).Tensor === kiln.Tensor);\n})();\n`);
    const r = await sh(process.execPath, ['cjs.cjs'], app);
    expect(r.code, r.out).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(JSON.parse(lines[0])).toEqual({ y: [0, 2, 5], backend: 'wasm', traces: 1 });
    expect(lines[1]).toBe('same instance true');
  });

  it('type-checks in a TypeScript project without @types/node (lib es2022 only) and with it', async () => {
    write('main.ts', `import * as kiln from 'kiln';

export async function main(): Promise<number[]> {
  await kiln.ready();
  const step = kiln.compile((x: kiln.Tensor): kiln.Tensor => x.mul(2).add(1).relu());
  using x = kiln.tensor([-3, 0.5, 2]);
  const y: kiln.Tensor = step(x);
  const report: kiln.Explanation = kiln.explain(step, x);
  return [...(y.toArray() as number[]), report.graphCount];
}
`);
    const options = { module: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false };
    write('tsconfig.json', JSON.stringify({ compilerOptions: { ...options, lib: ['es2022'], types: [] }, files: ['main.ts'] }));
    const bare = await sh(process.execPath, [tsc, '-p', '.'], app);
    expect(bare.code, bare.out).toBe(0);
    write('tsconfig.json', JSON.stringify({ compilerOptions: { ...options, types: ['node'] }, files: ['main.ts'] }));
    const node = await sh(process.execPath, [tsc, '-p', '.'], app);
    expect(node.code, node.out).toBe(0);
  });

  it('graph-break locations point at the script under node, node --enable-source-maps and tsx', async () => {
    const runners = [[], ['--enable-source-maps'], ['--import', 'tsx']];
    expect(await breakLocations(app, 'loc.mjs', runners)).toEqual(runners.map(() => ['app/loc.mjs:5']));
    expect(await breakLocations(app, 'loc.mts', [['--import', 'tsx']])).toEqual([['app/loc.mts:5']]);
  });

  it('the CLI lists every command', async () => {
    const r = await sh(process.execPath, [path.join(app, 'node_modules', '.bin', 'kiln'), '--help'], app);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/kiln dump SCRIPT/);
    expect(r.out).toMatch(/kiln bench/);
    expect(r.out).toMatch(/kiln --help/);
  });

  it('kiln dump records the compiled functions of scripts that import or require the installed kiln', async () => {
    write('dump-esm.ts', "import * as kiln from 'kiln';\nkiln.setBackend('cpu');\nconst f = kiln.compile((x: kiln.Tensor) => x.gelu('tanh'));\nf(kiln.randn([16, 16]));\n");
    write('dump-cjs.cjs', "const kiln = require('kiln');\nkiln.setBackend('cpu');\nconst f = kiln.compile((x) => x.gelu('tanh'));\nf(kiln.randn([16, 16]));\n");
    for (const script of ['dump-esm.ts', 'dump-cjs.cjs']) {
      const out = path.join(app, 'dumps', script);
      const r = await sh(process.execPath, [path.join(app, 'node_modules', '.bin', 'kiln'), 'dump', script, '--out', out], app);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(/: 1 compiled function\(s\), 1 signature\(s\), 1 graph\(s\), 0 break\(s\), 1 kernel\(s\)/);
      expect(r.out).not.toMatch(/second copy of kiln/);
      expect(JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8')).functions).toHaveLength(1);
    }
  });

  it('kiln bench runs the harness from the installed package', async () => {
    const r = await sh(process.execPath, [path.join(app, 'node_modules', '.bin', 'kiln'), 'bench', '--quick', '--filter', 'gelu-1M', '--backend', 'cpu'], app);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/gelu-1M/);
    expect(fs.readdirSync(path.join(app, 'kiln-bench')).some((f) => f.endsWith('.json'))).toBe(true);
  });
});

describe('the repository installed by path (npm links the checkout)', () => {
  let linked = '';
  beforeAll(async () => {
    linked = path.join(tmp, 'linked');
    fs.mkdirSync(linked);
    write('package.json', JSON.stringify({ name: 'kiln-linked-user', version: '1.0.0', private: true, type: 'commonjs' }, null, 2), linked);
    const installed = await sh(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', repo], linked);
    expect(installed.code, installed.out).toBe(0);
    expect(fs.realpathSync(path.join(linked, 'node_modules', 'kiln'))).toBe(fs.realpathSync(repo));
  }, 600_000);

  it('ES module and CommonJS scripts run', async () => {
    write('esm.mjs', `import * as kiln from 'kiln';\n${SCRIPT_BODY}\n`, linked);
    write('cjs.cjs', `const kiln = require('kiln');\n(async () => {${SCRIPT_BODY}\n})();\n`, linked);
    for (const script of ['esm.mjs', 'cjs.cjs']) {
      const r = await sh(process.execPath, [script], linked);
      expect(r.code, r.out).toBe(0);
      expect(JSON.parse(r.out.trim().split('\n')[0])).toEqual({ y: [0, 2, 5], backend: 'wasm', traces: 1 });
    }
  });

  it('graph-break locations point at the script, not into the linked checkout, under node and tsx', async () => {
    const tsx = ['--import', pathToFileURL(path.join(repo, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href];
    expect(await breakLocations(linked, 'loc.mjs', [[], ['--enable-source-maps'], tsx])).toEqual([['linked/loc.mjs:5'], ['linked/loc.mjs:5'], ['linked/loc.mjs:5']]);
    expect(await breakLocations(linked, 'loc.mts', [tsx])).toEqual([['linked/loc.mts:5']]);
  });
});

// A git URL install clones the repository, installs its dev dependencies there and runs `prepare`
// (the build), then packs and installs that: about 90 s on the shared 2-core machine, most of it the
// dev-dependency install, which no flag avoids (prepare needs typescript). So it runs on request:
// KILN_PACK_GIT=1 (npm run test:package:git). It installs the repository's committed HEAD.
describe.skipIf(process.env.KILN_PACK_GIT !== '1')('the repository installed from a git URL (git+file://; KILN_PACK_GIT=1)', () => {
  let cloned = '';
  beforeAll(async () => {
    cloned = path.join(tmp, 'git');
    fs.mkdirSync(cloned);
    write('package.json', JSON.stringify({ name: 'kiln-git-user', version: '1.0.0', private: true, type: 'commonjs' }, null, 2), cloned);
    const installed = await sh(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=optional', `git+${pathToFileURL(repo).href}`], cloned);
    expect(installed.code, installed.out).toBe(0);
    expect(fs.lstatSync(path.join(cloned, 'node_modules', 'kiln')).isSymbolicLink()).toBe(false);
    expect(fs.existsSync(path.join(cloned, 'node_modules', 'kiln', 'dist', 'src', 'index.js'))).toBe(true);
  }, 900_000);

  it('ES module and CommonJS scripts run', async () => {
    write('esm.mjs', `import * as kiln from 'kiln';\n${SCRIPT_BODY}\n`, cloned);
    write('cjs.cjs', `const kiln = require('kiln');\n(async () => {${SCRIPT_BODY}\n})();\n`, cloned);
    for (const script of ['esm.mjs', 'cjs.cjs']) {
      const r = await sh(process.execPath, [script], cloned);
      expect(r.code, r.out).toBe(0);
      expect(JSON.parse(r.out.trim().split('\n')[0])).toEqual({ y: [0, 2, 5], backend: 'wasm', traces: 1 });
    }
  });
});
