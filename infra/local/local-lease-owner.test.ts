import { describe, expect, it } from 'vitest';
import { heldByDeadLocalProcess, localRequestId, parseLocalOwner } from './local-lease-owner';

describe('local lease owners', () => {
  it('name the host and process, and parse back even when the host name holds colons', () => {
    const id = localRequestId(4242, 'build:box');
    expect(parseLocalOwner(id)).toEqual({ host: 'build:box', pid: 4242 });
  });

  it('are abandoned only when taken on this host by a process that no longer exists', () => {
    const alive = (pid: number) => pid === 4242;
    expect(heldByDeadLocalProcess(localRequestId(4242, 'here'), 'here', alive)).toBe(false);
    expect(heldByDeadLocalProcess(localRequestId(999_999, 'here'), 'here', alive)).toBe(true);
    // Another host's process cannot be checked from here: its lease keeps the normal expiry rules.
    expect(heldByDeadLocalProcess(localRequestId(999_999, 'elsewhere'), 'here', alive)).toBe(false);
    // A Lambda request id (any deployed invocation) is never taken over early.
    expect(heldByDeadLocalProcess('8f6b2c1e-1d2a-4c3b-9e8f-0a1b2c3d4e5f', 'here', () => false)).toBe(false);
    expect(heldByDeadLocalProcess(localRequestId(process.pid, 'here'), 'here', () => false)).toBe(false);
  });
});
