import type { PortSetting } from '../stack-settings';

export type ServiceName = 'kafka' | 'dynamodb' | 'mongodb' | 'opensearch';

export interface ProbeResult {
  readonly answering: boolean;
  /** What answered, e.g. the product and version; or why it did not. */
  readonly detail: string;
}

export interface StartedProcess {
  readonly pid: number;
  readonly description: string;
}

/** One service of the local stack: how to start it as a plain process and how to tell that it answers. */
export interface LocalService {
  readonly name: ServiceName;
  readonly port: PortSetting;
  /** The address clients use, as they would write it in the matching environment variable. */
  readonly address: string;
  /** The variable that points clients at a user's own instance; when set, the stack leaves the service alone. */
  readonly externalVariable: string;
  readonly isExternal: boolean;
  /** What a quiet machine needs to answer after spawn; scaled up with the load (see startAllowanceMs). */
  readonly startTimeoutMs: number;
  /** Fetches artifacts and prepares folders; may take minutes on a fresh machine. */
  prepare(progress: (line: string) => void): Promise<void>;
  /** Spawns the process (after prepare) and returns at once; the caller waits on probe. */
  spawn(progress: (line: string) => void): Promise<StartedProcess>;
  probe(): Promise<ProbeResult>;
  /** Runs once the process answers, for set-up that needs a live server (e.g. replica set initiation). */
  afterReady?(): Promise<void>;
}
