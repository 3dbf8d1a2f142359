import { probeMongodb, type MongoKind } from '../../infra/stack/services/mongodb';
import { endpoints } from '../../infra/stack/endpoints';

let cached: Promise<MongoKind | undefined> | undefined;

/** Which MongoDB the integration tests talk to; tests needing real MongoDB semantics skip on the stand-in. */
export function mongoKindUnderTest(): Promise<MongoKind | undefined> {
  cached ??= probeMongodb(endpoints.mongodbUri()).then((probe) => probe.kind);
  return cached;
}

export async function isRealMongod(): Promise<boolean> {
  return (await mongoKindUnderTest()) === 'real-mongod';
}
