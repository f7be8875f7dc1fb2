// KILN_LOGS=graph,breaks,recompiles,guards,fusion,kernels,passes prints compile stages as they happen
// (like TORCH_LOGS). Unknown names are an error listing the valid ones.
import { KilnError } from '../src/core/errors.js';
import { describeValue } from '../src/core/validate.js';

export const LOG_NAMES = ['graph', 'breaks', 'recompiles', 'guards', 'fusion', 'kernels', 'passes'] as const;
export type LogName = (typeof LOG_NAMES)[number];

let enabled: Set<LogName> | null = null;

/** Parses a KILN_LOGS value; throws on unknown names. */
export function parseLogs(spec: string, source = 'KILN_LOGS'): Set<LogName> {
  if (typeof spec !== 'string') throw new KilnError(`${source}: expected comma-separated log names (${LOG_NAMES.join(', ')}, all), got ${describeValue(spec)}`);
  const names = spec.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => n !== 'all' && !(LOG_NAMES as readonly string[]).includes(n));
  if (bad.length) throw new KilnError(`${source}: unknown log name(s) ${bad.join(', ')}; valid names: ${LOG_NAMES.join(', ')}, all`);
  return new Set(names.includes('all') ? LOG_NAMES : (names as LogName[]));
}

/** Enables log channels programmatically (or from KILN_LOGS when called with no argument). */
export function setLogs(spec?: string): void {
  const env = typeof process !== 'undefined' ? process.env?.KILN_LOGS : undefined;
  enabled = spec === undefined || spec === null ? parseLogs(env ?? '') : parseLogs(spec, 'setLogs');
}

/** Prints a message on a channel when it is enabled (the message is built only then). */
export function log(name: LogName, message: () => string): void {
  if (enabled === null) setLogs();
  if (enabled!.has(name)) console.error(message());
}
