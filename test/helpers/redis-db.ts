// A whole Redis database number for one daemon-level test file, since the daemon's key prefix is not configurable.
//
// Numbers in use (one file each, so parallel files never see each other's requests):
//   7 approvals-replicas   8 approvals-breakglass   9 approvals-jit-retry   10 approvals-kill   11 approvals-store-outage
//   12 approve-cancel-race   14 approvals-tamper

import { Redis } from 'ioredis';
import { requireService } from './services.js';

/** Checks Redis is up, empties database `db` and returns its URL; empties it again on teardown. */
export async function dedicatedRedisDb(db: number, teardown: (fn: () => Promise<void>) => void): Promise<string> {
  await requireService('redis');
  const url = `redis://127.0.0.1:6379/${db}`;
  const flush = async () => {
    const redis = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      await redis.flushdb();
    } finally {
      redis.disconnect();
    }
  };
  await flush();
  teardown(flush);
  return url;
}
