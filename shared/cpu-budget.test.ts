import { describe, expect, it } from 'vitest';
import { usableCpus } from './cpu-budget';

describe('usableCpus', () => {
  it('is the CPU count outside Lambda', () => {
    expect(usableCpus({}, 2)).toBe(2);
    expect(usableCpus({}, 1)).toBe(1);
  });

  it("is capped in Lambda by the function's memory: one vCPU's worth per 1,769 MB", () => {
    // Every Lambda function below 3,009 MB sees two CPUs.
    expect(usableCpus({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512' }, 2)).toBeCloseTo(0.289, 3);
    expect(usableCpus({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1769' }, 2)).toBe(1);
    expect(usableCpus({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2560' }, 2)).toBeCloseTo(1.447, 3);
    expect(usableCpus({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '10240' }, 6)).toBeCloseTo(5.789, 3);
    expect(usableCpus({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3008' }, 2)).toBeCloseTo(1.700, 3);
  });

  it('ignores a memory size that is not a positive number', () => {
    expect(usableCpus({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '' }, 2)).toBe(2);
    expect(usableCpus({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: 'lots' }, 2)).toBe(2);
  });
});
