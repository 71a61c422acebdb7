import { ConfigError, expected } from '#engine/errors.ts';

/** AWS guidance for SQS-triggered functions, shared with the local stack's queue. */
export { VISIBILITY_TO_TIMEOUT_RATIO } from '#engine/pipeline/detailed-worker.ts';

/** Lambda gives one full vCPU per 1769 MB of memory, up to 6 vCPUs at 10240 MB. */
export const MB_PER_VCPU = 1769;
export const LAMBDA_MAX_VCPUS = 6;
export const LAMBDA_MIN_MEMORY_MB = 128;
export const LAMBDA_MAX_MEMORY_MB = 10_240;
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/**
 * onnxruntime intra-op threads for a memory size: one per whole vCPU the memory buys (at least one).
 * More threads than vCPUs only adds contention; fewer leaves paid-for cores idle.
 */
export function threadsForMemory(memoryMB: number): number {
  assertMemory(memoryMB, 'memoryMB');
  // The maximum memory buys the sixth vCPU although 10240 / 1769 is only 5.8.
  if (memoryMB === LAMBDA_MAX_MEMORY_MB) return LAMBDA_MAX_VCPUS;
  return Math.max(1, Math.min(LAMBDA_MAX_VCPUS, Math.floor(memoryMB / MB_PER_VCPU)));
}

export function assertMemory(memoryMB: number, name: string): void {
  if (!Number.isInteger(memoryMB) || memoryMB < LAMBDA_MIN_MEMORY_MB || memoryMB > LAMBDA_MAX_MEMORY_MB) {
    throw new ConfigError(
      expected(`an integer from ${LAMBDA_MIN_MEMORY_MB} to ${LAMBDA_MAX_MEMORY_MB} (MB)`, name, memoryMB),
    );
  }
}

export function assertTimeoutSeconds(seconds: number, name: string): void {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > LAMBDA_MAX_TIMEOUT_SECONDS) {
    throw new ConfigError(
      expected(`an integer from 1 to ${LAMBDA_MAX_TIMEOUT_SECONDS} (seconds)`, name, seconds),
    );
  }
}

export function assertIntegerInRange(value: number, min: number, max: number, name: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(expected(`an integer from ${min} to ${max}`, name, value));
  }
}
