import type { LogEvent, Logger } from '../../shared/logger';

/** Keeps log events in memory so a test can assert that a failure was reported, and how. */
export class RecordingLogger implements Logger {
  readonly events: Array<LogEvent & { level: string }> = [];

  debug(event: LogEvent): void {
    this.events.push({ ...event, level: 'debug' });
  }
  info(event: LogEvent): void {
    this.events.push({ ...event, level: 'info' });
  }
  warn(event: LogEvent): void {
    this.events.push({ ...event, level: 'warn' });
  }
  error(event: LogEvent): void {
    this.events.push({ ...event, level: 'error' });
  }

  named(name: string): Array<LogEvent & { level: string }> {
    return this.events.filter((event) => event.event === name);
  }
}
