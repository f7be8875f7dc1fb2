// wasm backend: a disk cache of kernel module bytes across runs (Node only; browsers have none).
// A kernel's module bytes are determined by the printed kernel, the code that emits them (this
// directory and src/core, fingerprinted by content: a checkout's emitters change without a version
// bump), binaryen's version and the build options (relaxed SIMD, optimiser). The key hashes all of
// them. An entry is the key, a hash of the bytes and the bytes; one whose key or hash differs, or
// whose bytes V8 will not compile, is ignored and rebuilt (never trusted as it is). Entries are
// written to a temporary file and renamed, so a reader never sees half of one.
// Where: KILN_CACHE_DIR, else node_modules/.cache/kiln under the working directory when that
// node_modules exists, else the OS temp dir; a folder owned by another user is not used.
// KILN_CACHE=0 turns the default cache off (an explicit folder from code is still used). It keeps
// at most MAX_ENTRIES modules: past that, the least recently used quarter is removed.

type NodeBuiltins = {
  fs: typeof import('node:fs');
  path: typeof import('node:path');
  os: typeof import('node:os');
  crypto: typeof import('node:crypto');
  url: typeof import('node:url');
  module: typeof import('node:module');
};

type Env = Record<string, string | undefined>;

/** Bumped when the entry layout changes. */
const FORMAT = 'kiln-wasm-kernel-1';
const MAGIC = 'KILNWK1\n';
const HEX = 64; // sha-256, hex
/** Entries kept (kernel modules are a few kB: some tens of MB at most). */
export const MAX_ENTRIES = 4096;

/** A store of kernel module bytes by key. */
export interface KernelCache {
  /** Where entries live. */
  readonly dir: string;
  /** The key of a kernel's module: its printed kernel plus what else decides the bytes. */
  key(kernelText: string, options: { readonly fma: boolean; readonly optimize: boolean; readonly winogradF4?: boolean }): string;
  /** Whether an entry exists under `key` (not yet checked). */
  has(key: string): boolean;
  /** The bytes stored under `key`, or null (absent, unreadable, another key's, or damaged). */
  get(key: string): Uint8Array | null;
  /** Stores bytes under `key`; false when that failed (best effort: the cache is only an optimisation). */
  put(key: string, bytes: Uint8Array): boolean;
  /** Forgets an entry that proved unusable (e.g. V8 refused its bytes). */
  drop(key: string): void;
}

function nodeBuiltins(): NodeBuiltins | null {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc?.versions?.node || typeof proc.getBuiltinModule !== 'function') return null;
  const get = proc.getBuiltinModule.bind(proc);
  return {
    fs: get('node:fs'), path: get('node:path'), os: get('node:os'), crypto: get('node:crypto'), url: get('node:url'), module: get('node:module'),
  } as NodeBuiltins;
}

function processEnv(): Env {
  return (globalThis as { process?: { env?: Env } }).process?.env ?? {};
}

/** The default cache folder (see the top of this file). */
function defaultDir(node: NodeBuiltins, env: Env): string {
  if (env.KILN_CACHE_DIR) return node.path.resolve(env.KILN_CACHE_DIR);
  const modules = node.path.resolve('node_modules');
  try {
    if (node.fs.statSync(modules).isDirectory()) return node.path.join(modules, '.cache', 'kiln');
  } catch { /* no node_modules here */ }
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return node.path.join(node.os.tmpdir(), `kiln-cache-${uid}`);
}

/**
 * A hash of the code that decides a module's bytes: the files of this folder (the emitters) and of
 * src/core (the kernel IR and its printed form), by content, plus binaryen's version.
 */
function codeFingerprint(node: NodeBuiltins): string {
  const { fs, path, crypto } = node;
  const here = path.dirname(node.url.fileURLToPath(import.meta.url));
  const h = crypto.createHash('sha256').update(FORMAT);
  for (const dir of [here, path.join(here, '..', '..', 'src', 'core')]) {
    const files = fs.readdirSync(dir).filter((f) => /\.(?:[cm]?[jt]s)$/.test(f) && !f.endsWith('.d.ts')).sort();
    if (files.length === 0) throw new Error(`no sources in ${dir}`);
    for (const f of files) h.update(`\0${f}\0`).update(fs.readFileSync(path.join(dir, f)));
  }
  h.update(`\0binaryen ${binaryenVersion(node)}`);
  return h.digest('hex');
}

function binaryenVersion(node: NodeBuiltins): string {
  const { fs, path } = node;
  let dir = path.dirname(node.module.createRequire(import.meta.url).resolve('binaryen'));
  for (let i = 0; i < 4; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'binaryen' && pkg.version) return pkg.version;
    } catch { /* keep looking upwards */ }
  }
  throw new Error('binaryen version not found');
}

/**
 * The kernel cache of this process, or null: not Node, KILN_CACHE=0, or the folder or the code
 * fingerprint cannot be had (then kernels are built every run, as without a cache).
 */
export function openKernelCache(options: { readonly dir?: string; readonly env?: Env; readonly maxEntries?: number } = {}): KernelCache | null {
  const env = options.env ?? processEnv();
  if (options.dir === undefined && env.KILN_CACHE === '0') return null;
  const maxEntries = Math.max(1, options.maxEntries ?? MAX_ENTRIES);
  const node = nodeBuiltins();
  if (!node) return null;
  const { fs, path, crypto } = node;
  let dir: string, fingerprint: string;
  try {
    dir = path.join(options.dir ?? defaultDir(node, env), 'wasm');
    fingerprint = codeFingerprint(node);
  } catch {
    return null;
  }
  // The folder is used only if it is this user's: in a shared temp dir another user could have
  // made it, and planted entries with keys computed as this file computes them.
  let usable: boolean | null = null;
  const ours = (create: boolean): boolean => {
    if (usable === null) {
      try {
        if (create) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const st = fs.statSync(dir);
        const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
        usable = st.isDirectory() && (uid === undefined || st.uid === uid);
      } catch {
        if (create) usable = false;
        return false; // not there yet: nothing to read
      }
    }
    return usable;
  };
  const sha = (data: Uint8Array | string): string => crypto.createHash('sha256').update(data).digest('hex');
  const file = (key: string): string => path.join(dir, `${key}.kwasm`);
  // Checked at the first write and every eighth of the limit after: reads touch an entry's mtime,
  // so the oldest are the least recently used.
  let writes = 0;
  const pruneEvery = Math.max(1, Math.floor(maxEntries / 8));
  const prune = (): void => {
    try {
      const names = fs.readdirSync(dir).filter((f) => f.endsWith('.kwasm'));
      if (names.length < maxEntries) return;
      const aged: [number, string][] = [];
      for (const f of names) {
        try { aged.push([fs.statSync(path.join(dir, f)).mtimeMs, f]); } catch { /* removed meanwhile */ }
      }
      aged.sort((a, b) => a[0] - b[0]);
      for (const [, f] of aged.slice(0, aged.length - Math.floor((maxEntries * 3) / 4))) {
        try { fs.unlinkSync(path.join(dir, f)); } catch { /* removed meanwhile */ }
      }
    } catch { /* the cache is only an optimisation */ }
  };
  return {
    dir,
    key: (kernelText, o) => sha(`${fingerprint}\0fma=${o.fma}\0optimize=${o.optimize}${o.winogradF4 ? '\0winogradF4' : ''}\0${kernelText}`),
    has: (key) => ours(false) && fs.existsSync(file(key)),
    get(key) {
      if (!ours(false)) return null;
      let data: Buffer;
      try { data = fs.readFileSync(file(key)); } catch { return null; }
      const head = MAGIC.length + 2 * (HEX + 1);
      if (data.length <= head || data.toString('latin1', 0, MAGIC.length) !== MAGIC) return null;
      const storedKey = data.toString('latin1', MAGIC.length, MAGIC.length + HEX);
      const storedHash = data.toString('latin1', MAGIC.length + HEX + 1, MAGIC.length + 2 * HEX + 1);
      const bytes = new Uint8Array(data.buffer, data.byteOffset + head, data.length - head).slice();
      if (storedKey !== key || storedHash !== sha(bytes)) return null;
      const now = new Date();
      try { fs.utimesSync(file(key), now, now); } catch { /* only its place in the eviction order */ }
      return bytes;
    },
    put(key, bytes) {
      if (!ours(true)) return false;
      if (writes++ % pruneEvery === 0) prune();
      const tmp = `${file(key)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
      try {
        fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${MAGIC}${key}\n${sha(bytes)}\n`, 'latin1'), bytes]), { mode: 0o600 });
        fs.renameSync(tmp, file(key));
        return true;
      } catch {
        try { fs.unlinkSync(tmp); } catch { /* never written */ }
        return false;
      }
    },
    drop(key) {
      try { fs.unlinkSync(file(key)); } catch { /* already gone */ }
    },
  };
}
