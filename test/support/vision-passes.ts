import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';
import { vi } from 'vitest';

// transformers.js creates its sessions through this very class (onnxruntime-node, loaded via require).
const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;

/**
 * Counts the runs of every vision encoder session (the one fed `pixel_values`) created from now on,
 * i.e. how many times an image was encoded. Undo with `vi.restoreAllMocks()`.
 */
export function countVisionPasses(): { readonly count: number } {
  const counter = { count: 0 };
  const create = ort.InferenceSession.create.bind(ort.InferenceSession) as (
    ...args: unknown[]
  ) => Promise<Ort.InferenceSession>;
  vi.spyOn(ort.InferenceSession, 'create').mockImplementation((async (...args: unknown[]) => {
    const session = await create(...args);
    if (session.inputNames.includes('pixel_values')) {
      const run = session.run.bind(session) as (...runArgs: unknown[]) => Promise<unknown>;
      session.run = ((...runArgs: unknown[]) => {
        counter.count += 1;
        return run(...runArgs);
      }) as typeof session.run;
    }
    return session;
  }) as typeof ort.InferenceSession.create);
  return counter;
}
