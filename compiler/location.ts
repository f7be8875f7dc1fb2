// Where a traced op or a graph break came from: the user's file:line, found on the JavaScript stack.
// The stack may show kiln's TypeScript sources (tsx, vitest), its compiled dist/ (plain node, an
// installed package), dist/ mapped back to the sources (node --enable-source-maps, tsx), or one
// bundle holding kiln and the user's code together (a browser page). So:
//  - kiln's own folder is found from this module's own frame (compiler/location.ts or .js), raw or
//    through a source map, never guessed from a path that a user's project might share;
//  - a frame whose position the runtime did not map through the script's source map is mapped here
//    (Node: the map is read from disk, once per script; browsers: fetched ahead by
//    preloadSourceMaps(), which kiln.ready() awaits, since reads there are asynchronous).
import { decode, type SourceMapSegment } from '@jridgewell/sourcemap-codec';

/** A position on the stack: a path or URL, 1-based line and column. */
interface Position { readonly file: string; readonly line: number; readonly column: number }

/** file:line (the last two path segments) of the first stack frame outside kiln, or undefined. */
export function callerLocation(): string | undefined {
  return userLocation(deepStack());
}

/**
 * file:line of the first frame of `stack` outside kiln; the first frame must be kiln's own (this
 * module's), which tells where kiln is. Exported for tests.
 */
export function userLocation(stack: string | undefined): string | undefined {
  const frames = parseStack(stack);
  const own = frames[0];
  if (!own) return undefined;
  const rawKiln = kilnDir(own.file);
  let mappedKiln: string | null = null;
  let ownMapped = false;
  for (const frame of frames.slice(1)) {
    if (rawKiln && inKiln(rawKiln, frame.file)) continue;
    const pos = mapPosition(frame);
    if (pos !== frame) {
      if (!ownMapped) { mappedKiln = kilnDir(mapPosition(own).file); ownMapped = true; }
      if (mappedKiln && inKiln(mappedKiln, pos.file)) continue;
    }
    return `${shortName(pos.file)}:${pos.line}`;
  }
  return undefined;
}

/** The last two segments of a path, or of a URL's path. */
function shortName(file: string): string {
  let path = file;
  if (/^[a-z][\w+.-]*:\/\//.test(file)) { try { path = new URL(file).pathname; } catch { /* keep it whole */ } }
  return path.split(/[\\/]/).filter(Boolean).slice(-2).join('/');
}

/** A stack deep enough to get past kiln's frames (V8 keeps 10 by default; a backward() has more). */
function deepStack(): string | undefined {
  const E = Error as { stackTraceLimit?: number };
  const limit = E.stackTraceLimit;
  E.stackTraceLimit = 64;
  try {
    return new Error().stack;
  } finally {
    E.stackTraceLimit = limit;
  }
}

/** The positions of a V8 (`at f (file:1:2)`) or SpiderMonkey/JavaScriptCore (`f@file:1:2`) stack. */
export function parseStack(stack: string | undefined): Position[] {
  const out: Position[] = [];
  for (const line of (stack ?? '').split('\n')) {
    const m = /(?:^|[\s(@])((?:[a-z][\w+.-]*:\/\/|\/|[A-Za-z]:\\)[^\s()]*?):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!m || line.includes('(eval at ') || line.includes('> eval')) continue;
    let file = m[1];
    if (file.startsWith('file://')) file = fileUrlToPath(file);
    out.push({ file, line: Number(m[2]), column: Number(m[3]) });
  }
  return out;
}

function fileUrlToPath(url: string): string {
  try {
    const path = decodeURIComponent(new URL(url).pathname);
    return /^\/[A-Za-z]:\//.test(path) ? path.slice(1) : path; // file:///C:/x -> C:/x
  } catch {
    return url;
  }
}

/** kiln's folder (the repository or package root, or its dist/) from this module's path, or null. */
function kilnDir(file: string): string | null {
  const m = /^(.*)[\\/]compiler[\\/]location\.[cm]?[jt]s$/.exec(file);
  return m ? m[1] : null;
}

const KILN_FOLDERS = ['src', 'compiler', 'backends'];

/** Whether `file` is one of kiln's modules: under `dir`, or (for dist/) under the sources it maps to. */
function inKiln(dir: string, file: string): boolean {
  const f = file.replace(/\\/g, '/');
  const roots = [dir.replace(/\\/g, '/')];
  if (/\/dist$/.test(roots[0])) roots.push(roots[0].slice(0, -'/dist'.length));
  return roots.some((r) => KILN_FOLDERS.some((d) => f.startsWith(`${r}/${d}/`)));
}

// --- source maps --------------------------------------------------------------------------------

/** One script's source map, decoded on first use. */
class SourceMapping {
  private lines: SourceMapSegment[][] | null = null;
  constructor(private readonly mappings: string, private readonly sources: readonly string[]) {}

  /** The original position of a 1-based generated position, or null where the map has none. */
  lookup(line: number, column: number): Position | null {
    this.lines ??= decode(this.mappings);
    const segs = this.lines[line - 1];
    if (!segs?.length) return null;
    // The last segment starting at or before the column (V8 points inside the call expression).
    let best: SourceMapSegment | undefined;
    for (const s of segs) {
      if (s[0] > column - 1) break;
      best = s;
    }
    best ??= segs[0];
    if (best.length < 4) return null;
    const source = this.sources[best[1]!];
    return source === undefined ? null : { file: source, line: best[2]! + 1, column: best[3]! + 1 };
  }
}

const mappings = new Map<string, SourceMapping | null>();
const pending = new Map<string, Promise<void>>();

/** The frame mapped through its script's source map when one is known, else the frame itself. */
function mapPosition(frame: Position): Position {
  let m = mappings.get(frame.file);
  if (m === undefined) {
    m = readSourceMapSync(frame.file);
    if (m !== undefined) mappings.set(frame.file, m);
    else if (/^https?:/.test(frame.file)) void fetchSourceMap(frame.file); // for the next call
  }
  return m?.lookup(frame.line, frame.column) ?? frame;
}

/** The `//# sourceMappingURL=` of a script's text, or null. */
function mapUrlOf(text: string): string | null {
  const i = text.lastIndexOf('//# sourceMappingURL=');
  if (i < 0) return null;
  return /^\S+/.exec(text.slice(i + 21))?.[0] ?? null;
}

/** A parsed source map, its sources resolved against `base` (the map's own location). */
function parseSourceMap(json: string, base: string, toPath: (url: string) => string): SourceMapping | null {
  try {
    const map = JSON.parse(json) as { version?: number; mappings?: string; sources?: (string | null)[]; sourceRoot?: string };
    if (map.version !== 3 || typeof map.mappings !== 'string' || !Array.isArray(map.sources)) return null; // index maps: unsupported
    const root = map.sourceRoot ? (map.sourceRoot.endsWith('/') ? map.sourceRoot : `${map.sourceRoot}/`) : '';
    const sources = map.sources.map((s) => {
      try { return toPath(new URL(root + (s ?? ''), base).href); } catch { return s ?? ''; }
    });
    return new SourceMapping(map.mappings, sources);
  } catch {
    return null;
  }
}

function decodeDataUrl(url: string): string | null {
  const m = /^data:[^,]*?(;base64)?,(.*)$/s.exec(url);
  if (!m) return null;
  if (!m[1]) return decodeURIComponent(m[2]);
  const bin = atob(m[2]);
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

type NodeFs = { readFileSync(path: string, enc: 'utf8'): string };
const nodeFs = (): NodeFs | undefined =>
  (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:fs') as NodeFs | undefined;

/**
 * Node: the source map of a script on disk (null when it has none or it cannot be read). undefined
 * where files cannot be read synchronously (browsers: see fetchSourceMap).
 */
function readSourceMapSync(file: string): SourceMapping | null | undefined {
  const fs = nodeFs();
  if (!fs || !(file.startsWith('/') || /^[A-Za-z]:[\\/]/.test(file))) return undefined;
  try {
    const url = mapUrlOf(fs.readFileSync(file, 'utf8'));
    if (!url) return null;
    const base = new URL(`file://${file.startsWith('/') ? '' : '/'}${file.replace(/\\/g, '/')}`).href;
    const json = url.startsWith('data:') ? decodeDataUrl(url) : fs.readFileSync(fileUrlToPath(new URL(url, base).href), 'utf8');
    return json === null ? null : parseSourceMap(json, new URL(url.startsWith('data:') ? base : url, base).href, fileUrlToPath);
  } catch {
    return null;
  }
}

/** Browsers: fetches a script's source map once (null on any failure). */
function fetchSourceMap(url: string): Promise<void> {
  let p = pending.get(url);
  if (!p) {
    p = (async () => {
      let m: SourceMapping | null = null;
      try {
        const mapUrl = mapUrlOf(await (await fetch(url)).text());
        if (mapUrl) {
          const json = mapUrl.startsWith('data:') ? decodeDataUrl(mapUrl) : await (await fetch(new URL(mapUrl, url))).text();
          if (json !== null) m = parseSourceMap(json, mapUrl.startsWith('data:') ? url : new URL(mapUrl, url).href, (u) => u);
        }
      } catch { /* no map: positions stay the bundle's */ }
      mappings.set(url, m);
    })();
    pending.set(url, p);
  }
  return p;
}

/**
 * Browsers: loads the source maps of the scripts on the caller's stack (kiln's bundle and the page's
 * own code) and of any script seen so far, so that locations recorded from now on point at the
 * sources. A no-op in Node (maps are read from disk when needed).
 */
export async function preloadSourceMaps(): Promise<void> {
  if (nodeFs() || typeof fetch !== 'function') return;
  for (const f of parseStack(new Error().stack)) if (/^https?:/.test(f.file) && !mappings.has(f.file)) void fetchSourceMap(f.file);
  await Promise.all(pending.values());
}
