// bench: timing with tinybench. Heavy calls get an iteration count from a time budget (tinybench's
// sequential mode runs until both its time budget and its minimum iterations are met, so the budget
// is spent here and tinybench gets time 0); samples are kept to report the median and p90. Tasks
// compared with each other (eager and compiled) are timed in alternating rounds.
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

/** Runs the garbage collector when node runs with --expose-gc (between workloads). */
export function collect(): void { gc?.(); }

/**
 * One tinybench run of `iters` samples of `fn`; the samples in ms, unsorted. Samples run back to
 * back, warm, as a loop runs the call: a collection before each would leave the caches cold (a 1 ms
 * compiled depthwise conv took 2 ms after one) and weigh on fast calls most; the median discards
 * the samples a collection lands in. `slow`: one warm-up iteration instead of up to 50.
 */
async function samplesOf(name: string, fn: () => unknown, iters: number, slow: boolean): Promise<number[]> {
  const bench = new Bench({
    name, time: 0, iterations: iters, warmup: true, warmupIterations: slow ? 1 : Math.min(iters, 50), warmupTime: 0,
    retainSamples: true, throws: true,
  });
  bench.add(name, fn);
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.state !== 'completed') throw new Error(`tinybench task ${name} ended ${r.state}${'error' in r ? `: ${(r.error as Error).message}` : ''}`);
  return [...(r.latency.samples ?? [])];
}

/** A task for `timeInterleaved`: `estimateMs` is a previous call's time. */
export interface TimedTask {
  readonly name: string;
  readonly fn: () => unknown;
  readonly estimateMs: number;
}

/**
 * Times several tasks in alternating rounds (A B, B A, A B ...), each task spending about
 * `budget.ms` in all: on a shared machine whose load drifts, each task's samples then come from the
 * same stretches of time, so their ratio does not depend on which one ran first.
 */
export async function timeInterleaved(tasks: readonly TimedTask[], budget: Budget, rounds = 4): Promise<Timing[]> {
  const samples = tasks.map((): number[] => []);
  const itersOf = (t: TimedTask) => Math.max(budget.minIters, Math.min(budget.maxIters, Math.round(budget.ms / Math.max(t.estimateMs, 1e-3))));
  for (let r = 0; r < rounds; r++) {
    const order = tasks.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) {
      const t = tasks[i];
      samples[i].push(...await samplesOf(t.name, t.fn, Math.max(1, Math.ceil(itersOf(t) / rounds)), t.estimateMs > 10));
    }
  }
  return samples.map((xs) => {
    const sorted = xs.sort((a, b) => a - b);
    return { medianMs: quantile(sorted, 0.5), p90Ms: quantile(sorted, 0.9), minMs: sorted[0], samples: sorted.length };
  });
}

/**
 * Times `fn` (awaited when it returns a promise). `estimateMs` (a previous call's time) sets the
 * iteration count so the task spends about `budget.ms`.
 */
export async function timeTask(name: string, fn: () => unknown, estimateMs: number, budget: Budget): Promise<Timing> {
  const [t] = await timeInterleaved([{ name, fn, estimateMs }], budget, 1);
  return t;
}
