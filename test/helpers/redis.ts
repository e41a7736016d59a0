// Integration tests run against a real Redis at 127.0.0.1:6379; this checks it answers and
// otherwise fails the test with what is missing and how to start it (never a silent skip).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { probeRedis } from '../../src/util/probe.js'

/** The Redis the integration tests use. */
export const TEST_REDIS_URL = 'redis://127.0.0.1:6379'

/** Fails with how to start Redis unless one answers PING at {@link TEST_REDIS_URL}. */
export async function requireRedis(): Promise<void> {
  const probe = await probeRedis(TEST_REDIS_URL)
  if (!probe.reachable) {
    assert.fail(
      `Redis is missing: these tests need a Redis server at 127.0.0.1:6379 (${probe.detail}). ` +
        'To fix: `redis-server --daemonize yes` (Debian: apt-get install redis-server), ' +
        'or `docker run -d -p 6379:6379 redis:7`.',
    )
  }
}

/** A fresh key name under `prefix` (e.g. `malt-test:inference:3f9a…`), so tests never share keys. */
export function randomKey(prefix: string): string {
  return `${prefix}:${randomBytes(6).toString('hex')}`
}
