import { availableParallelism } from 'node:os';

/**
 * Lambda gives a function CPU time in proportion to its memory: one vCPU's worth at 1,769 MB. Below 3,009 MB every
 * function sees two CPUs, so the CPU count alone would put a second thread on a 512 MB function that has under a
 * third of one CPU, where the two threads only take turns and the second one's memory is spent for nothing.
 */
export const LAMBDA_MB_PER_VCPU = 1769;

/**
 * How many CPUs' worth of time this process can use: the CPUs it sees, capped in Lambda by the function's memory
 * (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, set by the Lambda runtime). A second thread is worth starting only above 1.
 */
export function usableCpus(env: NodeJS.ProcessEnv = process.env, cpus: number = availableParallelism()): number {
  const memoryMb = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  if (!Number.isFinite(memoryMb) || memoryMb <= 0) return cpus;
  return Math.min(cpus, memoryMb / LAMBDA_MB_PER_VCPU);
}
