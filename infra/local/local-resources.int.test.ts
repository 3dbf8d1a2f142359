import { afterAll, describe, expect, it } from 'vitest';
import { dropTable, localDynamo } from '../../test/support/local-clients';
import { uniqueName } from '../../test/support/unique-name';
import { ensureTable } from './local-resources';

describe('local resources under concurrent starts', () => {
  const dynamo = localDynamo();
  const table = uniqueName('concurrent-table');
  afterAll(async () => {
    await dropTable(dynamo, table);
    dynamo.destroy();
  });

  it('creates a table once when several starts ask for it at the same moment, and none fails', async () => {
    const created = await Promise.all([1, 2, 3, 4].map(() => ensureTable(dynamo, table, 'streamId')));
    expect(created.filter(Boolean).length).toBeLessThanOrEqual(1);
    expect(await ensureTable(dynamo, table, 'streamId')).toBe(false);
  });
});
