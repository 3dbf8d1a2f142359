import { MetricUnit, Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';

export type Unit = 'Count' | 'Bytes' | 'Seconds' | 'Milliseconds';

/** The narrow metrics surface the functions use, so tests can record what was emitted. */
export interface Metrics {
  add(name: string, unit: Unit, value: number): void;
  /** Writes what was added as one CloudWatch Embedded Metric Format line and starts afresh. */
  flush(): void;
}

const UNITS: Record<Unit, (typeof MetricUnit)[keyof typeof MetricUnit]> = {
  Count: MetricUnit.Count,
  Bytes: MetricUnit.Bytes,
  Seconds: MetricUnit.Seconds,
  Milliseconds: MetricUnit.Milliseconds,
};

/** EMF metrics through Powertools under namespace "MongoCdc" (POWERTOOLS_METRICS_NAMESPACE overrides it). */
export function createMetrics(serviceName: string, dimensions: Record<string, string>): Metrics {
  const powertools = new PowertoolsMetrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'MongoCdc',
    serviceName,
    defaultDimensions: dimensions,
  });
  return {
    add: (name, unit, value) => {
      powertools.addMetric(name, UNITS[unit], value);
    },
    flush: () => {
      // Powertools warns when flushing nothing; an idle batch is normal here.
      if (powertools.hasStoredMetrics()) powertools.publishStoredMetrics();
    },
  };
}

/** Keeps every metric in memory: for tests, and for summaries returned by local runs. */
export class RecordingMetrics implements Metrics {
  readonly emitted: Array<{ name: string; unit: Unit; value: number }> = [];
  /** How many of `emitted` a flush has published: a metric added but never flushed never reaches CloudWatch. */
  private publishedCount = 0;

  add(name: string, unit: Unit, value: number): void {
    this.emitted.push({ name, unit, value });
  }

  flush(): void {
    this.publishedCount = this.emitted.length;
  }

  /** The total of a metric as CloudWatch would see it: only what was flushed. */
  published(name: string): number {
    return this.emitted.slice(0, this.publishedCount).filter((metric) => metric.name === name).reduce((sum, metric) => sum + metric.value, 0);
  }

  total(name: string): number {
    return this.emitted.filter((metric) => metric.name === name).reduce((sum, metric) => sum + metric.value, 0);
  }
}
