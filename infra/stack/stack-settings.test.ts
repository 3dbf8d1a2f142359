import { afterEach, describe, expect, it } from 'vitest';
import { startAllowanceMs } from './stack-settings';

describe('startAllowanceMs', () => {
  afterEach(() => {
    delete process.env.STACK_START_TIMEOUT_SECONDS;
  });

  it('gives the base allowance on a machine with spare cores', () => {
    expect(startAllowanceMs(60_000, 0.5, 2)).toBe(60_000);
    expect(startAllowanceMs(60_000, 2, 2)).toBe(60_000);
  });

  it('grows with the load average per core, so a busy machine does not fail a slow but healthy start', () => {
    expect(startAllowanceMs(60_000, 10, 2)).toBe(300_000);
    expect(startAllowanceMs(120_000, 6, 4)).toBe(180_000);
  });

  it('is capped, so a wedged service is still reported', () => {
    expect(startAllowanceMs(120_000, 200, 2)).toBe(15 * 60_000);
  });

  it('takes STACK_START_TIMEOUT_SECONDS outright, and names the variable when it is not a positive number', () => {
    process.env.STACK_START_TIMEOUT_SECONDS = '42';
    expect(startAllowanceMs(60_000, 50, 2)).toBe(42_000);
    process.env.STACK_START_TIMEOUT_SECONDS = 'soon';
    expect(() => startAllowanceMs(60_000)).toThrow(/STACK_START_TIMEOUT_SECONDS="soon" is not a positive number/);
  });
});
