/**
 * The registry's keys and the Lua scripts that change them. Each script runs atomically in
 * Redis, so the check of a generation and the write it guards cannot be split by another
 * broker's write. Every write also publishes its hint (a message the caller built) in the same
 * script, so hints go out in the order the writes were made.
 *
 * Keys, under the prefix:
 * - `server:<id>`: the record (hash: g generation, e entry JSON, d draining); a session
 *   server's record has a TTL its owner renews, a classic server's has none.
 * - `servers`: the ids of records, for listing (an id whose record expired is pruned on list).
 * - `generations`: per id, the last generation registered, as "<g>", or "r<g>" once that
 *   generation was removed. It outlives the records: it is what stops a late write about an
 *   old generation, and a broker back from a partition, from reviving a record.
 * - `epoch`: a random value set when the registry is first written; a different one later
 *   means Redis lost its data (a restart without persistence) and brokers write back their view.
 * - `broker:<id>` and `brokers`: each broker's presence, with a TTL (broker-directory.ts).
 * - channel `events`: the hints.
 * Scripts name only keys under one prefix: one Redis (or one primary), not Redis Cluster.
 */

export interface RegistryKeys {
  readonly prefix: string;
  readonly servers: string;
  readonly generations: string;
  readonly epoch: string;
  readonly brokers: string;
  readonly channel: string;
  server(id: number): string;
  broker(id: string): string;
}

export function registryKeys(prefix: string): RegistryKeys {
  return {
    prefix,
    servers: `${prefix}servers`,
    generations: `${prefix}generations`,
    epoch: `${prefix}epoch`,
    brokers: `${prefix}brokers`,
    channel: `${prefix}events`,
    server: (id) => `${prefix}server:${id}`,
    broker: (id) => `${prefix}broker:${id}`,
  };
}

/** Reads the `generations` value of ARGV id into `last` (number) and `removed` (boolean). */
const READ_LAST = `
local function lastOf(v)
  if not v then return 0, false end
  if string.sub(v, 1, 1) == 'r' then return tonumber(string.sub(v, 2)), true end
  return tonumber(v), false
end
`;

/** Writes a record, indexes it and publishes its hint. */
const WRITE = `
local function write(rec, id, g, e, ttl, hint)
  redis.call('DEL', rec)
  redis.call('HSET', rec, 'g', g, 'e', e)
  if tonumber(ttl) > 0 then redis.call('PEXPIRE', rec, ttl) end
  redis.call('SADD', KEYS[2], id)
  redis.call('HSET', KEYS[3], id, g)
  redis.call('PUBLISH', KEYS[4], hint)
end
`;

/**
 * A new registration. KEYS: record, servers, generations, channel. ARGV: id, generation,
 * expected (the generation of the live record the caller checked, "0" for none), entry JSON,
 * TTL ms (0 = none), hint. Written only if the live record is still the expected one and the
 * generation is above the id's last; else {"changed", last, live generation, entry, draining}
 * so the caller can check again.
 */
export const REGISTER = `${READ_LAST}${WRITE}
local live = redis.call('HGET', KEYS[1], 'g') or '0'
local last = lastOf(redis.call('HGET', KEYS[3], ARGV[1]))
if live ~= ARGV[3] or tonumber(ARGV[2]) <= last then
  local v = redis.call('HGET', KEYS[3], ARGV[1]) or '0'
  return {'changed', v, live, redis.call('HGET', KEYS[1], 'e') or '', redis.call('HGET', KEYS[1], 'd') or ''}
end
write(KEYS[1], ARGV[1], ARGV[2], ARGV[4], ARGV[5], ARGV[6])
return {'ok'}
`;

/** KEYS: record, servers, generations, channel. ARGV: id, generation, hint. 1 if removed. */
export const REMOVE = `
if redis.call('HGET', KEYS[1], 'g') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], 'r' .. ARGV[2])
redis.call('PUBLISH', KEYS[4], ARGV[3])
return 1
`;

/** KEYS: record, channel. ARGV: generation, hint. 1 if it now drains. */
export const DRAIN = `
if redis.call('HGET', KEYS[1], 'g') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'd') == '1' then return 0 end
redis.call('HSET', KEYS[1], 'd', '1')
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1
`;

/**
 * What a broker keeps alive: for each of its records, renews the TTL, or writes the record back
 * when Redis lost it (expired while the broker could not renew it, Redis restarted, or it was
 * taken while Redis was away) unless a newer registration or a removal of it came since.
 * KEYS: servers, servers, generations, channel. ARGV: prefix, then per record: id, generation,
 * TTL ms, entry JSON, draining "1"/"0", hint. Answers per record "ok" (renewed), "written",
 * "removed" (that generation was removed) or "superseded" (a newer one exists).
 */
export const ENSURE = `${READ_LAST}${WRITE}
local out = {}
for i = 2, #ARGV, 6 do
  local id, g, ttl = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local rec = ARGV[1] .. 'server:' .. id
  local live = redis.call('HGET', rec, 'g')
  local last, removed = lastOf(redis.call('HGET', KEYS[3], id))
  local gen = tonumber(g)
  if live == g then
    if tonumber(ttl) > 0 then redis.call('PEXPIRE', rec, ttl) end
    out[#out + 1] = 'ok'
  elseif removed and last == gen then
    out[#out + 1] = 'removed'
  elseif tonumber(live or '0') <= gen and last <= gen then
    write(rec, id, g, ARGV[i + 3], ttl, ARGV[i + 5])
    if ARGV[i + 4] == '1' then redis.call('HSET', rec, 'd', '1') end
    out[#out + 1] = 'written'
  else
    out[#out + 1] = 'superseded'
  end
end
return out
`;

/**
 * Every record, and the epoch (set to ARGV[2] if there is none). KEYS: servers, epoch. ARGV:
 * prefix, new epoch. Answers {epoch, id, generation, entry, draining, id, ...}; ids whose
 * record is gone (expired) leave the index.
 */
export const LIST = `
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[2], epoch)
end
local out = {epoch}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local r = redis.call('HMGET', ARGV[1] .. 'server:' .. id, 'g', 'e', 'd')
  if r[1] then
    out[#out + 1] = id
    out[#out + 1] = r[1]
    out[#out + 1] = r[2] or ''
    out[#out + 1] = r[3] or ''
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
`;

/**
 * A broker says it is alive and reads who else is. KEYS: broker:<own id>, brokers. ARGV:
 * prefix, own id, own JSON, TTL ms. Answers the JSON of every live broker (pruning the gone).
 */
export const ANNOUNCE = `
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[2])
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local v = redis.call('GET', ARGV[1] .. 'broker:' .. id)
  if v then out[#out + 1] = v else redis.call('SREM', KEYS[2], id) end
end
return out
`;

/** A broker leaving: KEYS: broker:<own id>, brokers. ARGV: own id. */
export const RETIRE = `
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`;
