// The relay's worker threads, one module (and, bundled, one file beside the relay's handler: relay-worker.js): the
// change stream's read thread (read-worker.ts) and the snapshot's reading thread (snapshot-read-worker.ts) share the
// MongoDB driver, the largest part of each, so one bundle keeps the relay's package within its size budget. A thread
// runs only its own module (esbuild evaluates a required module when it is required), chosen by its workerData.
import { workerData } from 'node:worker_threads';

/** Which of the relay's threads this is; the read thread's data names none. */
export type RelayWorkerRole = 'snapshot-read';

if ((workerData as { role?: RelayWorkerRole } | null)?.role === 'snapshot-read') {
  require('./snapshot-read-worker');
} else {
  require('./read-worker');
}
