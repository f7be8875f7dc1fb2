// bench: timing with tinybench. Heavy calls get an iteration count from a time budget (tinybench's
// sequential mode runs until both its time budget and its minimum iterations are met, so the budget
// is spent here and tinybench gets time 0); samples are kept to report the median and p90.
import { Bench } from 'tinybench';

/** Latency figures of one timed task, in milliseconds. */
export interface Timing {
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly minMs: number;
  readonly samples: number;
}

/** How long to spend on a task and how many samples at least/at most. */
export interface Budget {
  readonly ms: number;
  readonly minIters: number;
  readonly maxIters: number;
}

/** The q-quantile of sorted samples, interpolating linearly between order statistics. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Runs the garbage collector when node runs with --expose-gc (frees eager temporaries between samples). */
export function collect(): void { gc?.(); }

/**
 * Times `fn` (awaited when it returns a promise). `estimateMs` (a previous call's time) sets the
 * iteration count so the task spends about `budget.ms`; slow calls get a GC before each sample.
 */
export async function timeTask(name: string, fn: () => unknown, estimateMs: number, budget: Budget): Promise<Timing> {
  const iters = Math.max(budget.minIters, Math.min(budget.maxIters, Math.round(budget.ms / Math.max(estimateMs, 1e-3))));
  const heavy = estimateMs > 10;
  const bench = new Bench({
    name, time: 0, iterations: iters, warmup: true, warmupIterations: heavy ? 1 : Math.min(iters, 50), warmupTime: 0,
    retainSamples: true, throws: true,
  });
  bench.add(name, fn, heavy ? { beforeEach: collect } : {});
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.state !== 'completed') throw new Error(`tinybench task ${name} ended ${r.state}${'error' in r ? `: ${(r.error as Error).message}` : ''}`);
  const samples = [...(r.latency.samples ?? [])].sort((a, b) => a - b);
  return { medianMs: r.latency.p50, p90Ms: quantile(samples, 0.9), minMs: r.latency.min, samples: r.latency.samplesCount };
}
