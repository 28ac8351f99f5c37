import { RedisScript } from './redis-script.js';

/**
 * The keys of one deployment, under its prefix:
 *
 * - `{prefix}:nodes` — a set of the node ids that have held a lease; a
 *   member whose lease is gone is dropped by the next node that notices.
 * - `{prefix}:node:{id}` — the node's lease: its report (JSON), expiring
 *   after the node TTL unless the node refreshes it.
 * - `{prefix}:conns:{id}` — the node's connections per user (a hash, user
 *   id → count), expiring with the lease. Only counts of nodes whose lease
 *   is live are summed: a node that died stops counting when its lease
 *   lapses, whatever its hash still says.
 *
 * The scripts build other nodes' keys from the prefix, so the deployment's
 * keys must live on one Redis server (no Redis Cluster slots), as the
 * broker's stream does.
 */
export interface ClusterKeys {
  readonly prefix: string;
  readonly nodes: string;
  lease(node: string): string;
  counts(node: string): string;
}

const LEASE = ':node:';
const COUNTS = ':conns:';

export function clusterKeys(prefix: string): ClusterKeys {
  return {
    prefix,
    nodes: `${prefix}:nodes`,
    lease: (node) => `${prefix}${LEASE}${node}`,
    counts: (node) => `${prefix}${COUNTS}${node}`,
  };
}

/**
 * Renews this node's lease; with `rewrite`, also replaces its counts with
 * the node's own truth (sent as pairs). Without it, a lease that had lapsed
 * (Redis restarted empty, or the node was cut off past the TTL) is left
 * lapsed and the answer says so: the node then sends its counts, so its
 * lease never stands in Redis without them. Answers the other live nodes'
 * leases, dropping the ones that lapsed.
 *
 * KEYS: nodes, own lease, own counts. ARGV: node id, lease JSON, TTL ms,
 * rewrite ('1' or '0'), prefix, then user id and count pairs.
 * Answers `[lease existed (0|1), counts rewritten (0|1), ...other leases]`.
 */
export const REFRESH = new RedisScript(`
local existed = redis.call('EXISTS', KEYS[2])
if existed == 0 and ARGV[4] ~= '1' then return {0, 0} end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[1], ARGV[1])
local rewritten = 0
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[3])
  for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
  rewritten = 1
end
redis.call('PEXPIRE', KEYS[3], ARGV[3])
local answer = {existed, rewritten}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[1] then
    local lease = redis.call('GET', ARGV[5] .. '${LEASE}' .. id)
    if lease then
      answer[#answer + 1] = lease
    else
      redis.call('SREM', KEYS[1], id)
      redis.call('DEL', ARGV[5] .. '${COUNTS}' .. id)
    end
  end
end
return answer
`);

/**
 * Admission: sums the user's connections over every live node and, under
 * the cap, takes one more on this node — in one atomic step, so two nodes
 * admitting the same user at once cannot both take the last place.
 *
 * KEYS: nodes, own lease, own counts. ARGV: node id, user id, cap, TTL ms, prefix.
 * Answers `[status, total]`: 1 taken (total with it), 0 refused (total
 * held), -1 this node holds no lease (its counts are not in Redis; nothing taken).
 */
export const TAKE = new RedisScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, 0} end
local total = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[1] and redis.call('EXISTS', ARGV[5] .. '${LEASE}' .. id) == 1 then
    total = total + tonumber(redis.call('HGET', ARGV[5] .. '${COUNTS}' .. id, ARGV[2]) or '0')
  end
end
if total >= tonumber(ARGV[3]) then return {0, total} end
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return {1, total + 1}
`);

/**
 * Adds `delta` to the user's count on this node (a connection closed, or
 * one attached without a place taken). Nothing while the lease has lapsed:
 * the counts are rewritten whole when it is renewed.
 *
 * KEYS: own lease, own counts. ARGV: user id, delta, TTL ms.
 */
export const ADJUST = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local left = redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
if left <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`);

/**
 * Every live node's lease, and how many distinct users have a connection
 * on any of them.
 *
 * KEYS: nodes. ARGV: prefix. Answers `[users, ...leases]`.
 */
export const NODES = new RedisScript(`
local answer = {0}
local seen = {}
local users = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local lease = redis.call('GET', ARGV[1] .. '${LEASE}' .. id)
  if lease then
    answer[#answer + 1] = lease
    for _, user in ipairs(redis.call('HKEYS', ARGV[1] .. '${COUNTS}' .. id)) do
      if not seen[user] then
        seen[user] = true
        users = users + 1
      end
    end
  end
end
answer[1] = users
return answer
`);

/** A node leaving: its lease and counts go at once. KEYS: nodes, own lease, own counts. ARGV: node id. */
export const LEAVE = new RedisScript(`
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('SREM', KEYS[1], ARGV[1])
return 1
`);
