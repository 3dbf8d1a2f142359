import { randomBytes } from 'node:crypto';

/** Names no other run uses, so test runs can repeat and overlap against one long-lived stack. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
