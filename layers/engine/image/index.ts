/** Image intake, for entry points: the content type a file name stands for. Intake itself is the engine's. */

export { contentTypeForFileName } from './content-types.ts';

export const IMPORTED_ON_THEIR_OWN: readonly string[] = [];
