// The examples' progress bar: one line on stderr, redrawn in place in a terminal; elsewhere (a log, a
// pipe) a line every 25%, so that logs stay short.

/** Draws `done` of `total` with `text` after the bar, and `label` before it. */
export function progress(done: number, total: number, text: string, label = ''): void {
  const width = 24, filled = Math.round((width * done) / total);
  const line = `${label ? `${label} ` : ''}[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(done).padStart(String(total).length)}/${total}  ${text}`;
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}${done === total ? '\n' : ''}`);
  else if (done === total || done % Math.ceil(total / 4) === 0) process.stderr.write(`${line}\n`);
}
