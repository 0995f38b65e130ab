// Lua for every approval transition: each runs atomically inside Redis, so racing replicas cannot double-approve or double-run.
//
// KEYS[1] = the request hash `<prefix>{req:<id>}`, KEYS[2] = its vote list `<prefix>{req:<id>}:votes` (same hash
// tag, so both live in one Cluster slot). ARGV[1] = pub/sub channel, ARGV[2] = request id. Scripts that change
// something PUBLISH the id; every script returns {status, HGETALL(request), LRANGE(votes)} so the caller sees
// the state the transition produced, not a later read.

const PRELUDE = `
local function result(status)
  return {status, redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
end
local function changed(status)
  redis.call('PUBLISH', ARGV[1], ARGV[2])
  return result(status)
end
local function pending_or_reason()
  local state = redis.call('HGET', KEYS[1], 'state')
  if not state then return {'not_found'} end
  if state ~= 'pending' then return result('not_pending') end
  return nil
end
`;

/** ARGV[3] = absolute expiry of the keys (ms), ARGV[4..] = field/value pairs. */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return result('created')
`;

/** Mirrors threshold.ts: N distinct voters; with all_groups, a different voter for each approver group. */
const APPROVE = `
local stop = pending_or_reason()
if stop then return stop end
-- ARGV[3] = voter email (lower case), ARGV[4] = vote JSON, ARGV[5] = now
if redis.call('HSETNX', KEYS[1], 'voter:' .. ARGV[3], ARGV[5]) == 0 then return result('already_voted') end
redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('PEXPIREAT', KEYS[2], redis.call('HGET', KEYS[1], 'retain_until'))
local votes = redis.call('LRANGE', KEYS[2], 0, -1)
local need = tonumber(redis.call('HGET', KEYS[1], 'min_approvals'))
if need < 1 then need = 1 end
local reached = #votes >= need
if reached and redis.call('HGET', KEYS[1], 'all_groups') == '1' then
  local groups = cjson.decode(redis.call('HGET', KEYS[1], 'approver_groups'))
  local voter_groups = {}
  for i, v in ipairs(votes) do
    local set = {}
    for _, g in ipairs(cjson.decode(v).groups) do set[g] = true end
    voter_groups[i] = set
  end
  local owner = {}
  local function try(group, seen)
    for v, set in ipairs(voter_groups) do
      if set[group] and not seen[v] then
        seen[v] = true
        local held = nil
        for g, ov in pairs(owner) do if ov == v then held = g end end
        if held == nil or try(held, seen) then
          owner[group] = v
          return true
        end
      end
    end
    return false
  end
  for _, g in ipairs(groups) do
    if not try(g, {}) then reached = false break end
  end
end
if reached then
  redis.call('HSET', KEYS[1], 'state', 'approved', 'final_at', ARGV[5])
  return changed('approved')
end
return changed('voted')
`;

/** ARGV[3] = target state, ARGV[4] = vote JSON field name or '', ARGV[5] = vote JSON or '', ARGV[6] = now, ARGV[7] = reason or ''. */
const DECIDE = `
local stop = pending_or_reason()
if stop then return stop end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'final_at', ARGV[6])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], ARGV[4], ARGV[5]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'final_reason', ARGV[7]) end
return changed(ARGV[3])
`;

/**
 * finish and withdraw. ARGV[3] = target state, ARGV[4] = now, ARGV[5] = reason, ARGV[6..] = the states it may
 * leave (pending for finish, plus approved when cancelling; approved and executed for withdraw).
 */
const FINISH = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'not_found'} end
local allowed = false
for i = 6, #ARGV do if ARGV[i] == state then allowed = true end end
if not allowed then return result('not_pending') end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'final_at', ARGV[4], 'final_reason', ARGV[5])
return changed(ARGV[3])
`;

/** ARGV[3] = now. approved → executed, exactly once. */
const EXECUTE = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'not_found'} end
if state ~= 'approved' then return result('not_pending') end
redis.call('HSET', KEYS[1], 'state', 'executed', 'executed_at', ARGV[3])
return changed('executed')
`;

/** ARGV[3] = instance id, ARGV[4] = lease end. Only the holder renews, and only while pending. */
const RENEW = `
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return {'not_pending'} end
if redis.call('HGET', KEYS[1], 'instance_id') ~= ARGV[3] then return {'not_holder'} end
if tonumber(redis.call('HGET', KEYS[1], 'lease_until')) < tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'lease_until', ARGV[4])
end
return {'renewed'}
`;

/**
 * ARGV[3] = now. A pending request whose holder stopped renewing becomes abandoned: it can never run later.
 * So does an approved one its holder's session was to run (held_run = 1) but never claimed: the holder
 * died between the approval and the run.
 */
const REAP = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'not_found'} end
if state ~= 'pending' and not (state == 'approved' and redis.call('HGET', KEYS[1], 'held_run') == '1') then return {'final'} end
if tonumber(redis.call('HGET', KEYS[1], 'lease_until')) >= tonumber(ARGV[3]) then return {'live'} end
redis.call('HSET', KEYS[1], 'state', 'abandoned', 'final_at', ARGV[3],
  'final_reason', 'lease of ' .. redis.call('HGET', KEYS[1], 'instance_id') .. ' ran out')
return changed('abandoned')
`;

const READ = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
return result('ok')
`;

/** ARGV[3] = slack JSON. */
const SET_SLACK = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
redis.call('HSET', KEYS[1], 'slack', ARGV[3])
return {'ok'}
`;

export const APPROVAL_SCRIPTS = {
  airlockCreate: PRELUDE + CREATE,
  airlockApprove: PRELUDE + APPROVE,
  airlockDecide: PRELUDE + DECIDE,
  airlockFinish: PRELUDE + FINISH,
  airlockExecute: PRELUDE + EXECUTE,
  airlockRenew: PRELUDE + RENEW,
  airlockReap: PRELUDE + REAP,
  airlockRead: PRELUDE + READ,
  airlockSetSlack: PRELUDE + SET_SLACK,
} as const;

export type ApprovalScriptName = keyof typeof APPROVAL_SCRIPTS;
