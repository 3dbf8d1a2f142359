import { probeMongodb, type MongoKind } from '../../infra/stack/services/mongodb';
import { endpoints } from '../../infra/stack/endpoints';

let cached: Promise<MongoKind | undefined> | undefined;

/** Which MongoDB the integration tests talk to (a real mongod or the stand-in), for the run's report. */
export function mongoKindUnderTest(): Promise<MongoKind | undefined> {
  cached ??= probeMongodb(endpoints.mongodbUri()).then((probe) => probe.kind);
  return cached;
}
