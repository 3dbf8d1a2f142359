/**
 * Runs `task` over `items` with at most `limit` running at once, taking items in order. When a task fails, no further
 * item is started; the tasks already running are waited for (so nothing keeps working, or fails unobserved, after the
 * caller has moved on), then the first failure is thrown.
 */
export async function inPool<T>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  let firstFailure: unknown;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        await task(items[index] as T, index);
      } catch (error) {
        if (!failed) firstFailure = error;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw firstFailure;
}
