import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OCR_DEFAULTS } from '#engine/ocr/text-reader.ts';
import { DETAILED_WORKER_DEFAULTS } from '#engine/pipeline/detailed-worker.ts';
import { COST_DOC, renderCostDoc } from '../../infra/cost.ts';
import { REPO_ROOT } from '../../infra/describer-image.ts';
import {
  DEFAULT_SIZING,
  deriveSizing,
  fastModelSizes,
  MB_PER_VCPU,
  SIZING_ASSUMPTIONS,
  threadsForMemory,
  WORST_CASE_DECODE_STEPS,
} from '../../infra/sizing.ts';

interface TaskCap {
  readonly task: string;
  readonly steps: number;
  readonly where: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every Florence-2 task in the manifest with the decoder steps its generation settings allow. */
function manifestTaskCaps(node: Json, where: string, inherited?: { [key: string]: Json }): TaskCap[] {
  if (node === null || typeof node !== 'object') return [];
  if (Array.isArray(node))
    return node.flatMap((item, i) => manifestTaskCaps(item, `${where}[${i}]`, inherited));
  const generation =
    node.generation && typeof node.generation === 'object' && !Array.isArray(node.generation)
      ? node.generation
      : inherited;
  const caps: TaskCap[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (typeof value === 'string' && /^<[A-Z_]+>$/.test(value) && generation) {
      const tokens = Number(generation.max_new_tokens ?? 0);
      const beams = Number(generation.num_beams ?? 1);
      caps.push({ task: value, steps: tokens * beams, where: `${where}.${key}` });
    } else if (typeof value === 'object') {
      caps.push(...manifestTaskCaps(value, `${where}.${key}`, generation));
    }
  }
  return caps;
}

describe('sizing of the default lineup (Florence-2 for both stages)', () => {
  it('gives both functions 2 vCPUs, 2 onnxruntime threads and a 90 s timeout', () => {
    // Act
    const { fast, detailed } = DEFAULT_SIZING;

    // Assess
    expect([fast.memoryMB, fast.threads, fast.timeoutSeconds]).toEqual([3538, 2, 90]);
    expect([detailed.memoryMB, detailed.threads, detailed.timeoutSeconds]).toEqual([3538, 2, 90]);
  });

  it('no longer sizes the worker for SmolVLM, unless questions are asked of it', () => {
    // Act
    const withQuestions = deriveSizing({ questions: 1 });

    // Assess: SmolVLM's ~4.2 GiB on top of Florence-2 and OCR, and its seconds in the timeout.
    expect(withQuestions.detailed.memoryMB).toBe(8845);
    expect(withQuestions.detailed.threads).toBe(5);
    expect(withQuestions.detailed.timeoutSeconds).toBe(120);
    expect(withQuestions.fast).toEqual(DEFAULT_SIZING.fast);
  });

  it('buys whole vCPUs only, so no paid-for fraction of a core goes without a thread', () => {
    for (const questions of [0, 1, 2, 3]) {
      const { detailed } = deriveSizing({ questions });
      expect(detailed.memoryMB % MB_PER_VCPU === 0 || detailed.memoryMB === 10_240).toBe(true);
      expect(detailed.memoryMB).toBeGreaterThanOrEqual(detailed.needMB);
      expect(threadsForMemory(detailed.memoryMB)).toBe(detailed.threads);
    }
  });

  it("sizes the worst OCR page by the reader's own time budget, not only by the page measured here", () => {
    expect(SIZING_ASSUMPTIONS.ocrTimeBudgetS.value).toBe(OCR_DEFAULTS.timeBudgetMs / 1000);
  });

  it('uses the same worker timeout as the local stack queue', () => {
    expect(DETAILED_WORKER_DEFAULTS.timeoutSeconds).toBe(DEFAULT_SIZING.detailed.timeoutSeconds);
    expect(DETAILED_WORKER_DEFAULTS.visibilityTimeoutSeconds).toBe(
      6 * DEFAULT_SIZING.detailed.timeoutSeconds,
    );
  });

  it("covers the manifest's generation caps in its worst case", () => {
    // Prepare
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'models', 'manifest.json'), 'utf8')) as Json;

    // Act
    const caps = manifestTaskCaps(manifest, 'manifest');

    // Assess: a Florence-2 task whose cap exceeds what the timeout was derived for would time out.
    expect(caps.length).toBeGreaterThan(0);
    for (const cap of caps) {
      expect(WORST_CASE_DECODE_STEPS[cap.task] ?? 0, `${cap.task} at ${cap.where}`).toBeGreaterThanOrEqual(
        cap.steps,
      );
    }
  });

  it("counts the embedding model's size from the manifest in the fast function's memory and cold load", () => {
    // Prepare
    const sizes = fastModelSizes();

    // Act
    const without = deriveSizing({ fastModels: { ...sizes, embeddingMB: 0 } });

    // Assess: CLIP (both q8 towers) is in models/manifest.json with its download size
    expect(sizes).toEqual({ captionMB: 622, embeddingMB: 156 });
    expect(DEFAULT_SIZING.fast.needMB - without.fast.needMB).toBe(156);
    expect(DEFAULT_SIZING.fast.coldLoadSeconds).toBeGreaterThan(without.fast.coldLoadSeconds);
    expect(DEFAULT_SIZING.detailed).toEqual(without.detailed);
  });

  it('refuses a question count it cannot size', () => {
    expect(() => deriveSizing({ questions: -1 })).toThrow(
      'Expected an integer from 0 to 100 for questions but received number -1',
    );
  });
});

describe('docs/cost.md', () => {
  it('shows the sizing and cost tables the code derives (regenerate: npx tsx infra/cost.ts --write)', () => {
    const doc = readFileSync(COST_DOC, 'utf8');
    expect(renderCostDoc(doc)).toBe(doc);
  });
});
