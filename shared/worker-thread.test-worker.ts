// A worker for shared/worker-thread.test.ts: echoes, throws what it is asked to, packs records, or dies.
import { MongoNetworkError, MongoServerError } from 'mongodb';
import { packRecords } from '../functions/relay/record-transfer';
import { CdcError } from './errors';
import { serveRequests } from './worker-thread';

export type TestRequest =
  | { readonly kind: 'echo'; readonly value: unknown }
  | { readonly kind: 'throw'; readonly what: 'network' | 'history-lost' | 'labelled' | 'cdc' | 'type' | 'string' }
  | { readonly kind: 'records'; readonly count: number }
  | { readonly kind: 'exit' }
  | { readonly kind: 'hang' };

function thrown(what: Extract<TestRequest, { kind: 'throw' }>['what']): unknown {
  switch (what) {
    case 'network':
      return new MongoNetworkError('connection 3 to 127.0.0.1:1 closed');
    case 'history-lost':
      return new MongoServerError({ message: 'resume point gone', code: 286, codeName: 'ChangeStreamHistoryLost' });
    case 'labelled':
      return new MongoServerError({ message: 'stepping down', code: 11602, codeName: 'InterruptedDueToReplStateChange', errorLabels: ['ResumableChangeStreamError'] });
    case 'cdc':
      return new CdcError('CONFIG_INVALID', 'bad setting', { cause: new Error('underneath') });
    case 'type':
      return new TypeError('x is not a function');
    case 'string':
      return 'a bare string';
  }
}

serveRequests<TestRequest, unknown>(async (request) => {
  switch (request.kind) {
    case 'echo':
      return { reply: request.value };
    case 'throw':
      throw thrown(request.what);
    case 'records': {
      const shared = Object.freeze({ 'cdc-format': '2' });
      const records = Array.from({ length: request.count }, (_, i) => ({ topic: 't', key: Buffer.from(`k${i}`), value: i % 2 ? null : Buffer.from(`v${i}`), headers: shared }));
      const packed = packRecords(records);
      return { reply: packed, transfer: [packed.buffer] };
    }
    case 'exit':
      process.exit(3);
      break;
    case 'hang':
      return new Promise(() => undefined);
  }
  throw new Error('unknown request');
});
