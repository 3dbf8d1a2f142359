import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isMainThread, parentPort, type Transferable, Worker } from 'node:worker_threads';
import {
  MongoError,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
} from 'mongodb';
import { CdcError, type CdcErrorCode, ERROR_CATALOGUE } from './errors';

/*
 * Worker-thread plumbing: where a worker's module is, request/reply messaging with transfer lists, and errors carried
 * across the thread boundary so that what arrives still classifies as what was thrown (a MongoDB network error is a
 * MongoNetworkError again, a server error keeps its code, codeName and labels, a CdcError its code).
 */

/** A worker's module file and the Node.js options it needs to load. */
export interface WorkerEntry {
  readonly file: string;
  readonly execArgv: readonly string[];
}

/**
 * The worker module `name` beside the module that asks (`dir` is its __dirname): in a bundle the worker's own bundle
 * (`name.js` or `name.cjs`, built beside it), in the sources `name.ts`, loaded through tsx (resolved from the
 * working directory, the project's root under vitest and tsx). Undefined when neither is
 * there (a bundle built without the worker): the caller decides whether to run without it.
 */
export function workerEntry(dir: string, name: string): WorkerEntry | undefined {
  for (const extension of ['.js', '.cjs']) {
    const file = join(dir, `${name}${extension}`);
    if (existsSync(file)) return { file, execArgv: [] };
  }
  const source = join(dir, `${name}.ts`);
  // tsx's require hook: Node.js 20 does not apply `--import tsx`'s module hooks in a worker thread.
  return existsSync(source) ? { file: source, execArgv: ['--require', 'tsx/cjs'] } : undefined;
}

/** An error as it crosses a thread boundary: the fields the relay's error classification reads, and the stack. */
export interface CarriedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: number | string;
  readonly codeName?: string;
  readonly errorLabels?: readonly string[];
  readonly cause?: CarriedError;
}

/** The plain form of any thrown value, for postMessage (an Error's own class and fields do not survive a clone). */
export function carryError(error: unknown, depth = 0): CarriedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const fields = error as Error & { code?: unknown; codeName?: unknown };
  // A cursor read with promoteValues: false carries server codes as Int32 objects.
  const code = typeof fields.code === 'object' && fields.code !== null ? Number(fields.code) : fields.code;
  return {
    name: error.name,
    message: error.message,
    ...(error.stack !== undefined ? { stack: error.stack } : {}),
    ...(typeof code === 'number' || typeof code === 'string' ? { code } : {}),
    ...(typeof fields.codeName === 'string' ? { codeName: fields.codeName } : {}),
    ...(error instanceof MongoError && error.errorLabels.length > 0 ? { errorLabels: [...error.errorLabels] } : {}),
    ...(error.cause !== undefined && depth < 3 ? { cause: carryError(error.cause, depth + 1) } : {}),
  };
}

function mongoErrorOf(carried: CarriedError, cause: Error | undefined): MongoError | undefined {
  const options = cause ? { cause } : {};
  switch (carried.name) {
    case 'MongoNetworkTimeoutError':
      return new MongoNetworkTimeoutError(carried.message, options);
    case 'MongoNetworkError':
      return new MongoNetworkError(carried.message, options);
    case 'MongoServerSelectionError':
      // The topology description is the worker's own; the relay never reads it. The driver's constructor reads a field
      // of it unconditionally, so it gets an empty one rather than none.
      return new MongoServerSelectionError(carried.message, {} as ConstructorParameters<typeof MongoServerSelectionError>[1]);
    case 'MongoOperationTimeoutError':
      return new MongoOperationTimeoutError(carried.message, options);
    case 'MongoServerError':
      return new MongoServerError({
        message: carried.message,
        ...(carried.code !== undefined ? { code: Number(carried.code) } : {}),
        ...(carried.codeName !== undefined ? { codeName: carried.codeName } : {}),
        ...(carried.errorLabels ? { errorLabels: [...carried.errorLabels] } : {}),
      });
    default: {
      if (!carried.name.startsWith('Mongo')) return undefined;
      // Any other driver error: a MongoError with the same code and labels classifies the same (as fatal unless they say otherwise).
      const error = new MongoError(carried.message, options);
      if (carried.code !== undefined) error.code = carried.code;
      for (const label of carried.errorLabels ?? []) error.addErrorLabel(label);
      return error;
    }
  }
}

/** The thrown value again, in its own class where that matters to the caller; the worker's stack follows the local one. */
export function reviveError(carried: CarriedError): Error {
  const cause = carried.cause ? reviveError(carried.cause) : undefined;
  let error: Error;
  if (carried.name === 'CdcError' && typeof carried.code === 'string' && carried.code in ERROR_CATALOGUE) {
    error = new CdcError(carried.code as CdcErrorCode, carried.message, cause ? { cause } : undefined);
  } else {
    error = mongoErrorOf(carried, cause) ?? Object.assign(new Error(carried.message, cause ? { cause } : undefined), carried.code !== undefined ? { code: carried.code } : {});
    if (!(error instanceof MongoError) && carried.name !== 'Error') error.name = carried.name;
  }
  if (carried.stack) error.stack = `${error.stack ?? ''}\n    --- in the worker thread ---\n${carried.stack}`;
  return error;
}

type Envelope<T> = { readonly id: number } & ({ readonly ok: true; readonly reply: T } | { readonly ok: false; readonly error: CarriedError });

/** The error every request still waiting gets when its worker is gone. */
export class WorkerGoneError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkerGoneError';
  }
}

/**
 * A worker thread answering requests one reply each, in any order (`serveRequests` on its side). A request rejects with
 * the worker's error, revived; every waiting request rejects when the worker dies or is terminated.
 */
export class WorkerClient<Request, Reply> {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private gone: Error | undefined;
  private readonly exited: Promise<void>;
  private holdsProcessOnlyWhileBusy = false;

  constructor(entry: WorkerEntry, options: { readonly name: string; readonly workerData?: unknown }) {
    this.worker = new Worker(entry.file, { execArgv: [...entry.execArgv], workerData: options.workerData, name: options.name });
    this.worker.on('message', (envelope: Envelope<Reply>) => {
      const request = this.waiting.get(envelope.id);
      if (!request) return;
      this.waiting.delete(envelope.id);
      if (this.waiting.size === 0 && this.holdsProcessOnlyWhileBusy) this.worker.unref();
      if (envelope.ok) request.resolve(envelope.reply);
      else request.reject(reviveError(envelope.error));
    });
    this.worker.on('error', (error) => this.fail(new WorkerGoneError(`worker thread ${options.name} failed: ${error.message}`, { cause: error })));
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        this.fail(new WorkerGoneError(`worker thread ${options.name} exited (code ${code})`));
        resolve();
      }),
    );
  }

  /** False once the worker died or was terminated: start a new one. */
  get alive(): boolean {
    return this.gone === undefined;
  }

  request(message: Request, transfer: readonly Transferable[] = []): Promise<Reply> {
    if (this.gone) return Promise.reject(this.gone);
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      // A request waited on keeps the process alive, even when the idle worker does not.
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, message }, [...transfer]);
    });
  }

  /**
   * Lets the process exit while the worker idles (no request waiting), so a worker kept for the next invocation of a
   * warm container does not hold a finished process open.
   */
  unref(): void {
    this.holdsProcessOnlyWhileBusy = true;
    if (this.waiting.size === 0) this.worker.unref();
  }

  /** The worker's event loop utilisation (its busy share of wall time), as `performance.eventLoopUtilization` gives it. */
  eventLoopUtilization(): { readonly idle: number; readonly active: number; readonly utilization: number } {
    return this.worker.performance.eventLoopUtilization();
  }

  /** Stops the worker at once, whatever it is doing; waiting requests reject. */
  async terminate(): Promise<void> {
    if (!this.gone) this.fail(new WorkerGoneError('worker thread terminated'));
    await this.worker.terminate();
    await this.exited;
  }

  private fail(error: Error): void {
    this.gone ??= error;
    for (const request of this.waiting.values()) request.reject(this.gone);
    this.waiting.clear();
  }
}

/** What a request handler answers: the reply, and what in it to transfer instead of copying (ArrayBuffers). */
export interface WorkerReply<Reply> {
  readonly reply: Reply;
  readonly transfer?: readonly Transferable[];
}

/**
 * The worker's side: answers each request with `handle`'s reply, or with its error carried across. Requests are handled
 * as they arrive; a handler that must not overlap itself serialises its own work.
 */
export function serveRequests<Request, Reply>(handle: (request: Request) => Promise<WorkerReply<Reply>>): void {
  const port = parentPort;
  if (isMainThread || !port) throw new Error('serveRequests runs in a worker thread only');
  port.on('message', ({ id, message }: { id: number; message: Request }) => {
    handle(message).then(
      ({ reply, transfer }) => port.postMessage({ id, ok: true, reply } satisfies Envelope<Reply>, [...(transfer ?? [])]),
      (error: unknown) => port.postMessage({ id, ok: false, error: carryError(error) } satisfies Envelope<Reply>),
    );
  });
}
