/** Caption and answer evaluation against references (the CLI's `eval`, loaded only when called). */

export { type ParsedReferences, parseReferences } from './references.ts';
export { type EvalReport, runEval } from './run-eval.ts';
export type { LatencySummary, MetricValue } from './score.ts';

export const IMPORTED_ON_THEIR_OWN: readonly string[] = [];
