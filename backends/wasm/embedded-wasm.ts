// wasm backend: binaryen's build embeds its own wasm (~10 MB) as one template literal of ~14.6 MB
// (`NAME(`\0asm...`)`, where NAME turns the string's char codes into bytes). Left in the script, V8
// parses that literal into scanner buffers and a string before the bytes exist: about 70 MB of peak
// RSS and a 15 MB source kept for the script's lifetime. Decoding the literal here, straight from the
// file's bytes, leaves V8 only the ~180 kB of JavaScript glue to parse.

/** The embedded wasm, decoded, and the glue with the call that decoded it replaced by `replacement`. */
export interface SplitBuild {
  readonly glue: string;
  readonly wasm: Uint8Array;
}

const BACKTICK = 0x60, BACKSLASH = 0x5c, DOLLAR = 0x24, BRACE = 0x7b, CR = 0x0d, LF = 0x0a;
const SIMPLE_ESCAPES: Readonly<Record<number, number>> = {
  0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9, 0x76: 11, // \b \f \n \r \t \v
};

/**
 * Splits a build of the shape `...NAME(`\0asm...`)...` (ASCII, exactly one such literal, no
 * substitutions) into its glue, where the call becomes `replacement`, and the literal's bytes (each
 * char code, as NAME stores it). Null for any other shape: the caller then evaluates the file whole.
 */
export function splitEmbeddedWasm(file: Uint8Array, replacement: string): SplitBuild | null {
  const open = indexOfAscii(file, '`\\0asm');
  if (open < 0 || indexOfAscii(file, '`\\0asm', open + 1) >= 0) return null;
  // The call around it: an identifier, `(`, the literal, `)`.
  if (file[open - 1] !== 0x28) return null;
  let callStart = open - 1;
  while (callStart > 0 && isIdentifierByte(file[callStart - 1])) callStart--;
  if (callStart === open - 1 || isDigit(file[callStart]) || file[callStart - 1] === 0x2e) return null; // not `obj.NAME(`
  const decoded = decodeTemplate(file, open + 1);
  if (!decoded || file[decoded.end + 1] !== 0x29) return null;
  const glue = utf8(file, 0, callStart) + replacement + utf8(file, decoded.end + 2, file.length);
  return { glue, wasm: decoded.bytes };
}

/**
 * The cooked value of the template literal whose text starts at `from` (just after the opening
 * backtick), as bytes, and the index of its closing backtick; null where a char code would not fit a
 * byte, the text is not ASCII, or the literal has a substitution or an escape a template forbids.
 */
function decodeTemplate(src: Uint8Array, from: number): { bytes: Uint8Array; end: number } | null {
  // Two passes: the first finds the end and the length, so the bytes are allocated once, exactly.
  const first = scanTemplate(src, from, null);
  if (!first) return null;
  const bytes = new Uint8Array(first.length);
  scanTemplate(src, from, bytes);
  return { bytes, end: first.end };
}

/** Walks a template literal's text from `from`, writing its char codes to `out` when given. */
function scanTemplate(src: Uint8Array, from: number, out: Uint8Array | null): { length: number; end: number } | null {
  let n = 0;
  let i = from;
  for (;;) {
    if (i >= src.length) return null;
    const c = src[i];
    let value = c;
    let next = i + 1;
    if (c === BACKTICK) return { length: n, end: i };
    if (c > 0x7f) return null;
    if (c === DOLLAR && src[i + 1] === BRACE) return null; // a substitution
    if (c === CR) { // CR and CRLF read as LF in a template
      value = LF;
      if (src[i + 1] === LF) next++;
    } else if (c === BACKSLASH) {
      const e = src[i + 1];
      next = i + 2;
      if (e === undefined || e > 0x7f) return null;
      if (e === 0x30) { // \0, not followed by a digit
        if (isDigit(src[i + 2])) return null;
        value = 0;
      } else if (isDigit(e)) {
        return null; // legacy octal: not allowed in a template
      } else if (e === 0x78) { // \xHH
        value = hex(src, i + 2, 2);
        next = i + 4;
      } else if (e === 0x75 && src[i + 2] === BRACE) { // \u{H...}
        let j = i + 3;
        while (j < src.length && src[j] !== 0x7d) j++;
        value = hex(src, i + 3, j - (i + 3));
        next = j + 1;
      } else if (e === 0x75) { // \uHHHH
        value = hex(src, i + 2, 4);
        next = i + 6;
      } else if (e === LF || e === CR) { // a line continuation: no character
        value = -1;
        if (e === CR && src[i + 2] === LF) next++;
      } else {
        value = SIMPLE_ESCAPES[e] ?? e;
      }
      if (value > 0xff || value < -1 || (value === -1 && e !== LF && e !== CR)) return null;
    }
    if (value >= 0) {
      if (out) out[n] = value;
      n++;
    }
    i = next;
  }
}

/** `count` hex digits at `at` as a number, or -1. */
function hex(src: Uint8Array, at: number, count: number): number {
  if (count < 1) return -1;
  let v = 0;
  for (let k = 0; k < count; k++) {
    const d = hexDigit(src[at + k]);
    if (d < 0) return -1;
    v = v * 16 + d;
    if (v > 0x10ffff) return -1; // not a code point (leading zeros are fine)
  }
  return v;
}

function hexDigit(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function isIdentifierByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === DOLLAR;
}

function indexOfAscii(src: Uint8Array, needle: string, from = 0): number {
  const first = needle.charCodeAt(0);
  outer: for (let i = src.indexOf(first, from); i >= 0; i = src.indexOf(first, i + 1)) {
    for (let k = 1; k < needle.length; k++) if (src[i + k] !== needle.charCodeAt(k)) continue outer;
    return i;
  }
  return -1;
}

/** The glue's text (the file is UTF-8; the cuts fall on ASCII bytes). */
function utf8(src: Uint8Array, from: number, to: number): string {
  return new TextDecoder().decode(src.subarray(from, to));
}
