import { describe, expect, it } from 'vitest';
import { external } from '../../infra/stack/endpoints';
import { describeReport, runChaos } from './chaos-run';

// The short variant of `npm run chaos`: a seeded adversarial workload through `npm start`, the pipeline SIGKILLed and
// restarted, an index refusing writes for a while; then both stores must equal MongoDB but for documented limits.
describe('chaos (short variant of npm run chaos)', () => {
  it.skipIf(external.opensearch() || external.kafka())(
    'loses nothing beyond documented store limits under a pipeline kill and a store refusing writes',
    async () => {
      const seed = Number(process.env.CHAOS_SEED ?? 20_261_130);
      const report = await runChaos({
        seed,
        workloadSeconds: 30,
        opsPerSecond: 8,
        idsPerCollection: 40,
        faults: ['pipeline-kill', 'index-write-block'],
        outageSeconds: 8,
        large: 0.01,
        oversize: 0.005,
        log: (line) => console.log(`[chaos] ${line}`),
      });
      console.log(describeReport(report));

      // 30 s at 8/s is 240 operations however long they take on a busy machine; MongoDB accepts every one.
      expect(report.operations).toMatchObject({ attempted: 240, failed: 0 });
      expect(report.pipelineExits).toEqual([]);
      expect(report.faults.map((fault) => fault.fault).sort()).toEqual(['index-write-block', 'pipeline-kill']);
      expect(report.drained).toBe(true);
      expect(report.unexplained).toEqual([]);
    },
    900_000,
  );
});
