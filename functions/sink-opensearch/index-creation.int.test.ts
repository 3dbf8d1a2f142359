import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ChangeStreamDocument, Int32, Timestamp } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoints } from '../../infra/stack/endpoints';
import type { SourceRecord } from '../../shared/lambda-kafka-event';
import { encodeChangeEvent } from '../../shared/record-format';
import { SinkHarness } from '../../test/support/sink-harness';
import { uniqueName } from '../../test/support/unique-name';
import { OpenSearchStore } from './opensearch-store';
import { createSearchClient, type SearchClient } from './search-client';
import { indexName } from './search-document';

/**
 * SINK_INDEX_BODY against the real OpenSearch of the stack. The non-404 HEAD answers (429, 503, 403) come from a small
 * HTTP proxy in front of it that answers HEAD requests itself a given number of times and forwards everything else:
 * a fault injector, the store and OpenSearch stay real.
 */

const direct = createSearchClient({ url: endpoints.opensearch(), region: 'us-east-1' });

/** `status` is the answer to the next `times` HEAD requests; after that HEAD goes through as well. */
interface HeadFault {
  status: number;
  times: number;
}

class HeadFaultProxy {
  fault: HeadFault = { status: 200, times: 0 };
  headsAnswered = 0;
  private server: Server | undefined;

  async start(): Promise<string> {
    const target = endpoints.opensearch();
    this.server = createServer((request, response) => {
      if (request.method === 'HEAD' && this.fault.times > 0) {
        this.fault.times--;
        this.headsAnswered++;
        response.writeHead(this.fault.status).end();
        return;
      }
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', async () => {
        try {
          const forwarded = await fetch(new URL(request.url ?? '/', target), {
            method: request.method ?? 'GET',
            headers: request.headers['content-type'] ? { 'content-type': request.headers['content-type'] } : {},
            ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
          });
          const body = Buffer.from(await forwarded.arrayBuffer());
          response.writeHead(forwarded.status, { 'content-type': forwarded.headers.get('content-type') ?? 'application/json' }).end(body);
        } catch (error) {
          response.writeHead(502).end(String(error));
        }
      });
    });
    await new Promise<void>((listening) => this.server?.listen(0, '127.0.0.1', listening));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((closed) => (this.server ? this.server.close(() => closed()) : closed()));
  }
}

const INDEX_BODY = { settings: { number_of_shards: 1, number_of_replicas: 0 }, mappings: { properties: { sku: { type: 'keyword' } } } };

function insert(db: string, id: number): SourceRecord {
  const encoded = encodeChangeEvent(
    {
      _id: { _data: `t${id}` },
      operationType: 'insert',
      clusterTime: new Timestamp({ t: 1_790_000_000, i: id }),
      ns: { db, coll: 'orders' },
      documentKey: { _id: new Int32(id) },
      fullDocument: { _id: new Int32(id), sku: `SKU-${id}` },
    } as unknown as ChangeStreamDocument,
    { ordinal: 0 },
  );
  return { topic: `mongo-cdc.${db}.orders`, partition: 0, offset: id, ...encoded };
}

async function skuMapping(client: SearchClient, index: string): Promise<unknown> {
  const response = await client.request('GET', `/${index}/_mapping`);
  if (response.status !== 200) return `HTTP ${response.status}`;
  return (response.body as Record<string, { mappings: { properties: Record<string, unknown> } }>)[index]?.mappings.properties.sku;
}

describe('OpenSearch sink: the index body (SINK_INDEX_BODY)', () => {
  const harness = new SinkHarness();
  const proxy = new HeadFaultProxy();
  const template = `${uniqueName('body')}-{db}-{coll}`;
  let store: OpenSearchStore;

  beforeAll(async () => {
    await harness.setUp();
    const proxied = createSearchClient({ url: await proxy.start(), region: 'us-east-1' });
    store = new OpenSearchStore(proxied, { indexTemplate: template, indexBody: INDEX_BODY, baseBackoffMs: 50 });
  });
  afterAll(async () => {
    await harness.tearDown();
    await proxy.stop();
    await direct.request('DELETE', `/${indexName(template, { db: '*', coll: '*' })}`).catch(() => undefined);
  });

  it('creates a new index with the body before the first write', async () => {
    const db = uniqueName('plain');
    const summary = await harness.run('opensearch', store, [insert(db, 1), insert(db, 2)]);

    expect(summary).toMatchObject({ applied: 2 });
    expect(await skuMapping(direct, indexName(template, { db, coll: 'orders' }))).toEqual({ type: 'keyword' });
  });

  it.each([429, 503])('retries a HEAD answered %i and still applies the body', async (status) => {
    const db = uniqueName(`head${status}`);
    proxy.fault = { status, times: 2 };
    const before = proxy.headsAnswered;

    const summary = await harness.run('opensearch', store, [insert(db, 1)]);

    expect(proxy.headsAnswered - before).toBe(2);
    expect(summary).toMatchObject({ applied: 1 });
    // Written through dynamic mapping, sku would be text with a keyword sub-field.
    expect(await skuMapping(direct, indexName(template, { db, coll: 'orders' }))).toEqual({ type: 'keyword' });
  });

  it('fails the batch and writes nothing while HEAD keeps answering 503', async () => {
    const db = uniqueName('head503');
    proxy.fault = { status: 503, times: 1_000 };

    await expect(harness.run('opensearch', store, [insert(db, 1)], 5_000)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });

    proxy.fault = { status: 200, times: 0 };
    expect((await direct.request('HEAD', `/${indexName(template, { db, coll: 'orders' })}`)).status).toBe(404);
  });

  it('fails the batch with a named error when HEAD is refused (403), and writes nothing', async () => {
    const db = uniqueName('head403');
    proxy.fault = { status: 403, times: 1 };

    await expect(harness.run('opensearch', store, [insert(db, 1)])).rejects.toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringContaining('HEAD answered HTTP 403') });

    expect((await direct.request('HEAD', `/${indexName(template, { db, coll: 'orders' })}`)).status).toBe(404);
  });
});
