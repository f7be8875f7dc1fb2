// Step counts of the memory tests: small in CI, the sizes with KILN_MEMORY_FULL=1
// (`npm run test:memory:full`).
export const FULL = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.KILN_MEMORY_FULL === '1';
export const steps = (ci: number, full: number): number => (FULL ? full : ci);
