import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';

/** A log event: `event` names what happened; the other fields are its structured details (never document bodies). */
export interface LogEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

export interface Logger {
  debug(event: LogEvent): void;
  info(event: LogEvent): void;
  warn(event: LogEvent): void;
  error(event: LogEvent): void;
}

/**
 * One JSON object per line through AWS Lambda Powertools (level, timestamp, service, cold start and request id come
 * for free); POWERTOOLS_LOG_LEVEL sets the level.
 */
export function createLogger(serviceName: string, persistentFields: Record<string, unknown> = {}): Logger {
  const powertools = new PowertoolsLogger({ serviceName, persistentKeys: persistentFields });
  const forward =
    (method: 'debug' | 'info' | 'warn' | 'error') =>
    ({ event, ...details }: LogEvent) =>
      powertools[method](event, details);
  return { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: forward('error') };
}
