import { Int32 } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { streamSchema } from './relay-config';
import { inScope, snapshotDocumentFilter, splitNamespace } from './snapshot-scope';

describe('snapshot scope', () => {
  it('honours the stream\'s database, collection and include/exclude filters', () => {
    const deployment = streamSchema.parse({ id: 'all', includeNamespaces: ['shop', 'crm.people'], excludeNamespaces: ['shop.audit'] });
    expect(inScope(deployment, 'shop', 'orders')).toBe(true);
    expect(inScope(deployment, 'shop', 'audit')).toBe(false);
    expect(inScope(deployment, 'crm', 'people')).toBe(true);
    expect(inScope(deployment, 'crm', 'leads')).toBe(false);
    const collection = streamSchema.parse({ id: 'one', database: 'shop', collection: 'orders' });
    expect(inScope(collection, 'shop', 'orders')).toBe(true);
    expect(inScope(collection, 'shop', 'items')).toBe(false);
  });

  it('splits at the first dot, since collection names may hold dots', () => {
    expect(splitNamespace('shop.orders.2024')).toEqual(['shop', 'orders.2024']);
    expect(() => splitNamespace('shop')).toThrow(/must be "db.collection"/);
  });

  it('applies $match stages on fullDocument fields to documents and names the stages it cannot apply', () => {
    // Prepare
    const stream = streamSchema.parse({
      id: 's',
      database: 'shop',
      pipeline: [
        { $match: { 'fullDocument.status': 'open', 'fullDocument.total': { $gt: { $numberInt: '10' } } } },
        { $match: { operationType: { $in: ['insert', 'update'] } } },
        { $project: { 'fullDocument.secret': 0 } },
      ],
    });

    // Act
    const { filter, notApplied } = snapshotDocumentFilter(stream);

    // Assess
    expect(filter).toEqual({ status: 'open', total: { $gt: new Int32(10) } });
    expect(notApplied).toEqual(['$match', '$project']);
  });

  it('has no filter for a stream without a pipeline', () => {
    expect(snapshotDocumentFilter(streamSchema.parse({ id: 's' }))).toEqual({ notApplied: [] });
  });
});
