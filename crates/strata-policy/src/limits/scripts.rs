//! The Lua scripts of the Redis backend. Each runs atomically, takes its clock from
//! `redis.call('TIME')` (so replicas with skewed clocks agree), and leaves every key with a TTL.
//! Redis passes Lua numbers to commands losslessly (shortest round-trip form), so doubles
//! stored in hashes read back bit for bit.

/// GCRA meter (see `gcra.rs`, same operations on doubles). KEYS[1]: hash {l = level in units,
/// t = when, in µs}. ARGV: limit per minute (> 0), cost (negative refunds), '1' to admit only if
/// there is room or '0' to apply unconditionally (settling). Returns {1, 0} when applied,
/// {0, microseconds to wait} when refused.
pub(super) const METER: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local level = 0
local at = now
local state = redis.call('HMGET', KEYS[1], 'l', 't')
if state[1] and state[2] then
  at = tonumber(state[2])
  local elapsed = now - at
  if elapsed < 0 then elapsed = 0 end
  level = tonumber(state[1]) - elapsed * limit / 60000000
  if level < 0 then level = 0 end
end
local nxt = level + cost
if ARGV[3] == '1' and nxt > limit + limit * 1e-9 then
  return {0, math.ceil((nxt - limit) * 60000000 / limit)}
end
if nxt < 0 then nxt = 0 end
if at < now then at = now end
redis.call('HSET', KEYS[1], 'l', nxt, 't', at)
redis.call('PEXPIRE', KEYS[1], math.ceil(nxt * 60000 / limit) + 1000)
return {1, 0}
";

/// Takes a concurrency lease. KEYS[1]: sorted set, member = lease id, score = expiry in ms.
/// ARGV: max, lease id, lease length in ms. Returns 1 when taken, 0 when full.
pub(super) const ENTER: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Extends a lease that still exists (one pruned after expiring is not resurrected: its slot may
/// have been taken). ARGV: lease id, lease length in ms. Returns 1 when renewed, 0 when lost.
pub(super) const RENEW: &str = r"
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// Shared by the budget scripts: sums the live reservations of budget hash KEYS[1]
/// ('spent' = micro-USD charged, 'r:<id>' = '<estimate>:<expiry ms>'), deleting expired ones
/// when `prune` is true. Returns spent, reserved, now (ms).
const BUDGET_SCAN: &str = r"
local function scan(prune)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local all = redis.call('HGETALL', KEYS[1])
  local spent, reserved = 0, 0
  for i = 1, #all, 2 do
    local field, value = all[i], all[i + 1]
    if field == 'spent' then
      spent = tonumber(value)
    elseif string.sub(field, 1, 2) == 'r:' then
      local sep = string.find(value, ':', 1, true)
      local estimate = tonumber(string.sub(value, 1, sep - 1))
      if tonumber(string.sub(value, sep + 1)) <= now then
        if prune then redis.call('HDEL', KEYS[1], field) end
      else
        reserved = reserved + estimate
      end
    end
  end
  return spent, reserved, now
end
";

/// Reserves a budget estimate. ARGV: limit, estimate, reservation id, reservation lease in ms,
/// TTL in ms for a hash that has none yet. Returns {admitted 1/0, spent, reserved (including
/// this reservation when admitted)}.
pub(super) fn budget_reserve() -> String {
    format!(
        "{BUDGET_SCAN}{}",
        r"
local spent, reserved, now = scan(true)
local limit, estimate = tonumber(ARGV[1]), tonumber(ARGV[2])
local used = spent + reserved
if used >= limit or used + estimate > limit then return {0, spent, reserved} end
redis.call('HSET', KEYS[1], 'r:' .. ARGV[3], string.format('%d:%d', estimate, now + tonumber(ARGV[4])))
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return {1, spent, reserved + estimate}
"
    )
}

/// Spent and live reserved amounts, without writing.
pub(super) fn budget_state() -> String {
    format!(
        "{BUDGET_SCAN}{}",
        r"
local spent, reserved = scan(false)
return {spent, reserved}
"
    )
}

/// Replaces a reservation by the actual cost (charged even if the reservation expired).
/// ARGV: reservation id, actual, TTL in ms for a hash that has none. Returns the new spent.
pub(super) const BUDGET_SETTLE: &str = r"
redis.call('HDEL', KEYS[1], 'r:' .. ARGV[1])
local spent = redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return spent
";

/// Sets the spent amount if there is none yet. ARGV: spent, TTL in ms. Returns 1 when set.
pub(super) const BUDGET_SEED: &str = r"
local set = redis.call('HSETNX', KEYS[1], 'spent', ARGV[1])
if set == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return set
";
