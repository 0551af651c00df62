-- One venue API's circuit breaker, every transition atomic (one Redis script call each).
-- KEYS[1]: state hash, KEYS[2]: sliding-window hash (c<bucket>/f<bucket> call/failure counts)
-- ARGV: op, now, failure_count, failure_rate, minimum_calls, window_seconds, recovery_seconds,
--       half_open_calls, then the op's own arguments (see reliability/breaker_store.py).
-- Returns {verdict, gen, state, retry_at, from, to, trigger} ("" where nothing moved),
-- or for "peek" the state hash flattened plus win_calls / win_fails.
local ALLOWED = __TRANSITIONS__
local key, win = KEYS[1], KEYS[2]
local op, now = ARGV[1], tonumber(ARGV[2])
local fail_count, fail_rate = tonumber(ARGV[3]), tonumber(ARGV[4])
local min_calls, window = tonumber(ARGV[5]), tonumber(ARGV[6])
local recovery, half_open = tonumber(ARGV[7]), tonumber(ARGV[8])
local BUCKETS = 20

local function get(field, default)
  local value = redis.call('HGET', key, field)
  if value then return value end
  return default
end

local state = get('state', 'closed')
local gen = tonumber(get('gen', '0'))
local moved = {'', '', ''}

local function move(to, trigger, actor, reason)
  local allowed = ALLOWED[state .. '>' .. to]
  if not allowed or not allowed[trigger] then
    error({err = 'illegal breaker transition ' .. state .. ' -> ' .. to .. ' (' .. trigger .. ')'})
  end
  moved = {state, to, trigger}
  state = to
  gen = gen + 1
  redis.call('HSET', key, 'state', to, 'gen', gen, 'since', ARGV[2], 'trigger', trigger,
    'actor', actor or 'system', 'reason', reason or '')
end

local function open_until(at)
  redis.call('HSET', key, 'opened_at', ARGV[2], 'retry_at', tostring(at), 'probes', 0,
    'probe_ok', 0, 'consec', 0)
  redis.call('DEL', win)
end

local function window_sums(add_calls, add_fail)
  local width = window / BUCKETS
  local idx = math.floor(now / width)
  if add_calls > 0 then redis.call('HINCRBY', win, 'c' .. idx, add_calls) end
  if add_fail then redis.call('HINCRBY', win, 'f' .. idx, 1) end
  local flat = redis.call('HGETALL', win)
  local calls, fails = 0, 0
  for i = 1, #flat, 2 do
    local field, value = flat[i], tonumber(flat[i + 1])
    if tonumber(string.sub(field, 2)) <= idx - BUCKETS then
      redis.call('HDEL', win, field)
    elseif string.sub(field, 1, 1) == 'c' then
      calls = calls + value
    else
      fails = fails + value
    end
  end
  if add_calls > 0 then redis.call('PEXPIRE', win, math.ceil(window * 2000)) end
  return calls, fails
end

-- n successes of calls let through at generation call_gen while closed (a process records
-- its closed breaker's successes in batches): the consecutive count resets, the window counts
-- them. Stale (another generation) or no longer closed: they change nothing, as one would not.
local function successes(n, call_gen)
  if n > 0 and call_gen == gen and state == 'closed' then
    redis.call('HSET', key, 'consec', 0)
    window_sums(n, false)
  end
end

local function reply(verdict, retry_at)
  return {verdict, tostring(gen), state, retry_at or get('retry_at', ''), moved[1], moved[2], moved[3]}
end

if op == 'peek' then
  local calls, fails = window_sums(0, false)
  local flat = redis.call('HGETALL', key)
  table.insert(flat, 'win_calls'); table.insert(flat, tostring(calls))
  table.insert(flat, 'win_fails'); table.insert(flat, tostring(fails))
  return flat

elseif op == 'acquire' then
  -- ARGV[9], ARGV[10] (optional): a batch of successes to record first (count, generation)
  successes(tonumber(ARGV[9] or '0'), tonumber(ARGV[10] or '-1'))
  local verdict = 'allow'
  if state == 'forced_open' then
    return reply('deny', '')
  elseif state == 'open' then
    if now < tonumber(get('retry_at', '0')) then return reply('deny') end
    move('half_open', 'recovery_timeout')
    redis.call('HSET', key, 'probes', 0, 'probe_ok', 0, 'probe_lease', 0)
  end
  if state == 'half_open' then
    local probes = tonumber(get('probes', '0'))
    local lease = tonumber(get('probe_lease', '0'))
    if probes > 0 and now >= lease then
      probes = 0 -- the earlier probes never reported (their process died): probe again
      redis.call('HSET', key, 'probe_ok', 0)
    end
    if probes >= half_open then return reply('deny', tostring(lease)) end
    redis.call('HSET', key, 'probes', probes + 1, 'probe_lease', tostring(now + recovery))
    verdict = 'probe'
  end
  return reply(verdict)

elseif op == 'record' then
  local ok, call_gen, probe = ARGV[9] == 'success', tonumber(ARGV[10]), ARGV[11] == '1'
  local count = tonumber(ARGV[12] or '1') -- successes recorded at once (failures: 1)
  if call_gen ~= gen then return reply('stale') end
  if ok and not probe and state == 'closed' then
    successes(count, call_gen)
  elseif state == 'closed' then
    local consec = 0
    if ok then
      redis.call('HSET', key, 'consec', 0)
    else
      consec = redis.call('HINCRBY', key, 'consec', 1)
    end
    local calls, fails = window_sums(1, not ok)
    if not ok then
      local trigger = nil
      if fail_count > 0 and consec >= fail_count then
        trigger = 'failures'
      elseif fail_rate > 0 and calls >= min_calls and fails / calls >= fail_rate then
        trigger = 'failure_rate'
      end
      if trigger then
        move('open', trigger)
        open_until(now + recovery)
        redis.call('HSET', key, 'trip_calls', calls, 'trip_fails', fails, 'trip_consec', consec)
      end
    end
  elseif state == 'half_open' and probe then
    if ok then
      if redis.call('HINCRBY', key, 'probe_ok', 1) >= half_open then
        move('closed', 'probe_success')
        redis.call('HSET', key, 'probes', 0, 'probe_ok', 0, 'consec', 0, 'retry_at', '')
        redis.call('DEL', win)
      end
    else
      move('open', 'probe_failure')
      open_until(now + recovery)
    end
  end
  return reply('ok')

elseif op == 'ban' then
  local ends = tonumber(ARGV[9])
  if state == 'closed' or state == 'half_open' or
     (state == 'open' and ends > tonumber(get('retry_at', '0'))) then
    move('open', 'ban')
    open_until(ends)
  end
  return reply('ok')

elseif op == 'operator' then
  local action, target = ARGV[9], ARGV[10]
  move(target, action, ARGV[11], ARGV[12])
  if target == 'closed' then
    redis.call('HSET', key, 'probes', 0, 'probe_ok', 0, 'consec', 0, 'retry_at', '', 'opened_at', '')
    redis.call('DEL', win)
  elseif target == 'forced_open' then
    redis.call('HSET', key, 'opened_at', ARGV[2], 'retry_at', '')
  end
  return reply('ok')

elseif op == 'restore' then
  -- Redis came back empty (restarted without persistence): adopt this process's local view.
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'state', ARGV[9], 'gen', 1, 'since', ARGV[2], 'trigger', 'restore',
      'actor', ARGV[11], 'reason', ARGV[12], 'retry_at', ARGV[10], 'opened_at', ARGV[2])
    return reply('restored')
  end
  return reply('kept')
end
error({err = 'unknown breaker op ' .. op})
