import { performance } from 'node:perf_hooks';

/** Milliseconds as records and logs carry them: to a tenth. */
export const roundMs = (ms: number) => Math.round(ms * 10) / 10;

/** Milliseconds since `start` (a `performance.now()` reading), to a tenth. */
export const elapsedMs = (start: number) => roundMs(performance.now() - start);
