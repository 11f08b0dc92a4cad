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

/**
 * Reading what Redis holds without trusting it: anything may have been written there (an older
 * version, a hand edit, a rogue writer), and one bad value must cost its own id, never the
 * script (a Lua error fails the whole call, every id of a batch with it).
 * - genOf(v): a generation as written (decimal digits, a safe integer), or nil.
 * - lastOf(v): the `generations` value of an id: last (number), removed (boolean), bad (boolean:
 *   unreadable, read as no generation at all, so the next registration of the id overwrites it).
 * - liveOf(rec): the record of an id: its generation text (nil when absent or unreadable), its
 *   owner and host (from the entry JSON, nil when unreadable), and whether it was unreadable.
 * - hget(key, field): HGET that reads a key of the wrong type as nil.
 */
const READ = `
local MAXG = 9007199254740991
local function genOf(v)
  if type(v) ~= 'string' or #v == 0 or #v > 16 or not string.match(v, '^%d+$') then return nil end
  local n = tonumber(v)
  if n > MAXG then return nil end
  return n
end
local function hget(key, field)
  local v = redis.pcall('HGET', key, field)
  if type(v) ~= 'string' then return nil end
  return v
end
local function lastOf(v)
  if not v then return 0, false, false end
  local removed = string.sub(v, 1, 1) == 'r'
  local n = genOf(removed and string.sub(v, 2) or v)
  if n == nil then return 0, false, true end
  return n, removed, false
end
local function liveOf(rec)
  local r = redis.pcall('HMGET', rec, 'g', 'e', 'd')
  if type(r) ~= 'table' or r.err then return nil, nil, nil, true, nil, nil end
  if not r[1] then return nil, nil, nil, false, nil, nil end
  if genOf(r[1]) == nil then return nil, nil, nil, true, nil, nil end
  local ok, e = pcall(cjson.decode, r[2] or '')
  if not ok or type(e) ~= 'table' then return r[1], nil, nil, false, r[2], r[3] end
  local owner, host = e.owner, e.host
  if type(owner) ~= 'string' then owner = nil end
  if type(host) ~= 'string' then host = nil end
  return r[1], owner, host, false, r[2], r[3]
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
 * TTL ms (0 = none), hint, the registering broker's id, the "in place" key of a classic
 * registration (host|port|policy; "" for a session one), the prefix.
 *
 * The duplicate-id rule, cluster-wide: a record another broker owns and keeps alive is not
 * taken from it while that broker's presence key lives (broker-directory.ts; a broker that
 * stopped cleanly removed it, one that died loses it within 3 resync periods): a session record
 * (it has a TTL: its owner renews it while the session is open) until it expires or its owner
 * removes it; a classic record unless the registration is the same classic server restarting in
 * place. Answers {"duplicate", owner, host}. The registering broker's own records are its
 * registrar's to judge.
 *
 * Else written only if the live record is still the expected one and the generation is above
 * the id's last; else {"changed", last, live generation, entry, draining} so the caller can
 * check again. {"ok", bad}: bad names unreadable data overwritten ("" when none).
 */
export const REGISTER = `${READ}${WRITE}
local liveText, owner, host, unreadable, e, d = liveOf(KEYS[1])
local last, removed, badLast = lastOf(hget(KEYS[3], ARGV[1]))
if liveText and owner and owner ~= ARGV[7] and redis.call('EXISTS', ARGV[9] .. 'broker:' .. owner) == 1 then
  local alive = redis.call('PTTL', KEYS[1]) > 0
  if not alive then
    local ok, old = pcall(cjson.decode, e)
    local inPlace = ARGV[8] ~= '' and ok and type(old) == 'table' and old.session == false
      and (tostring(old.host) .. '|' .. string.format('%.0f', tonumber(old.packetPort) or -1) .. '|' .. string.format('%.0f', tonumber(old.policy) or -1)) == ARGV[8]
    alive = not inPlace
  end
  if alive then return {'duplicate', owner, host or ''} end
end
local live = liveText or '0'
if live ~= ARGV[3] or tonumber(ARGV[2]) <= last then
  return {'changed', string.format('%.0f', last), live, e or '', d or ''}
end
write(KEYS[1], ARGV[1], ARGV[2], ARGV[4], ARGV[5], ARGV[6])
local bad = ''
if unreadable then bad = 'record' elseif badLast then bad = 'generations' end
return {'ok', bad}
`;

/** KEYS: record, servers, generations, channel. ARGV: id, generation, hint. 1 if removed. */
export const REMOVE = `${READ}
if hget(KEYS[1], 'g') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], 'r' .. ARGV[2])
redis.call('PUBLISH', KEYS[4], ARGV[3])
return 1
`;

/** KEYS: record, channel. ARGV: generation, hint. 1 if it now drains. */
export const DRAIN = `${READ}
if hget(KEYS[1], 'g') ~= ARGV[1] or hget(KEYS[1], 'd') == '1' then return 0 end
redis.call('HSET', KEYS[1], 'd', '1')
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1
`;

/**
 * An operator's change (setAdmin) to a record: its entry JSON replaced, only if the record is
 * still that generation (0 otherwise) and its entry still the one the broker changed (-1
 * otherwise: another write came between; the broker reads again). The generation stays, so a
 * late change about an older registration touches nothing, and the hint is an "added" one of the
 * same generation, which brokers read as the update.
 * KEYS: the record, channel. ARGV: generation, expected entry JSON, new entry JSON, hint.
 */
export const UPDATE = `${READ}
if hget(KEYS[1], 'g') ~= ARGV[1] then return 0 end
if hget(KEYS[1], 'e') ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], 'e', ARGV[3])
redis.call('PUBLISH', KEYS[2], ARGV[4])
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
export const ENSURE = `${READ}${WRITE}
local out = {}
for i = 2, #ARGV, 6 do
  local id, g, ttl = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local rec = ARGV[1] .. 'server:' .. id
  local live = liveOf(rec)
  local last, removed = lastOf(hget(KEYS[3], id))
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
  local r = redis.pcall('HMGET', ARGV[1] .. 'server:' .. id, 'g', 'e', 'd')
  if type(r) ~= 'table' or r.err then
    -- Not a hash: listed with an empty generation, so the broker skips it and says so.
    out[#out + 1] = id
    out[#out + 1] = ''
    out[#out + 1] = ''
    out[#out + 1] = ''
  elseif r[1] then
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

/** The keys a registration or removal of `id` touches: its record, the list, the generations, the channel. */
export function recordKeys(keys: RegistryKeys, id: number): string[] {
  return [keys.server(id), keys.servers, keys.generations, keys.channel];
}
