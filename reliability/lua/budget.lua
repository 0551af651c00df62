-- A venue API's rate budgets, checked and charged together in one atomic step.
-- KEYS[1]: cooldown key (429), KEYS[2]: ban key (418), KEYS[3..]: one key per budget.
-- acquire: ARGV = 'acquire', now, n, guard, then per budget: kind, limit, allowed, period, cost
--   (a window charge made within `guard` seconds of its window's end is charged to the next
--   window too: the venue counts by arrival, and the request may arrive after the boundary)
--   -> {'ok', '0', used_1, ..., used_n} | {'wait'|'cooldown'|'ban', seconds} | {'too_big', '0'}
-- observe: ARGV = 'observe', now, n, cooldown_until, ban_until, then per budget:
--   kind, limit, period, value ('' when the response said nothing about it)
-- peek:    ARGV = 'peek', now, n, then per budget: kind, limit, period
--   -> {cooldown_until, ban_until, used_1, ..., used_n}
-- kind 'window': fixed window aligned to the epoch; value = the venue's "used" count.
-- kind 'bucket': token bucket refilled over period; value = the venue's "remaining" count.
local op, now, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

local function num(value, default)
  if value then return tonumber(value) end
  return default
end

local function window_key(key, period, ahead)
  return key .. ':' .. (math.floor(now / period) + (ahead or 0))
end

local function bucket(key, limit, period)
  local h = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens, ts = num(h[1], limit), num(h[2], now)
  return math.min(limit, tokens + math.max(0, now - ts) * limit / period)
end

local function used(kind, key, limit, period)
  if kind == 'window' then return num(redis.call('GET', window_key(key, period)), 0) end
  return limit - bucket(key, limit, period)
end

if op == 'acquire' then
  local guard = tonumber(ARGV[4])
  local function straddles(period)
    return (math.floor(now / period) + 1) * period - now < guard
  end
  local ban = num(redis.call('GET', KEYS[2]), 0)
  if now < ban then return {'ban', tostring(ban - now)} end
  local cool = num(redis.call('GET', KEYS[1]), 0)
  if now < cool then return {'cooldown', tostring(cool - now)} end
  local wait = 0
  for i = 1, n do
    local b = 5 + (i - 1) * 5
    local kind, limit, allowed = ARGV[b], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
    local period, cost = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
    if cost > allowed then return {'too_big', '0'} end
    if cost > 0 then
      if kind == 'window' then
        local next_used = 0
        if straddles(period) then
          next_used = num(redis.call('GET', window_key(KEYS[2 + i], period, 1)), 0)
        end
        if used(kind, KEYS[2 + i], limit, period) + cost > allowed then
          wait = math.max(wait, (math.floor(now / period) + 1) * period - now)
        elseif next_used + cost > allowed then
          wait = math.max(wait, (math.floor(now / period) + 2) * period - now)
        end
      else
        local tokens = bucket(KEYS[2 + i], limit, period)
        local keep = limit - allowed -- tokens this priority must leave for higher ones
        if tokens - cost < keep then
          wait = math.max(wait, (cost + keep - tokens) * period / limit)
        end
      end
    end
  end
  if wait > 0 then return {'wait', tostring(wait)} end
  local reply = {'ok', '0'}
  for i = 1, n do
    local b = 5 + (i - 1) * 5
    local kind, limit, period, cost = ARGV[b], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
    local key = KEYS[2 + i]
    if kind == 'window' then
      local k = window_key(key, period)
      local total = redis.call('INCRBY', k, cost)
      redis.call('PEXPIRE', k, math.ceil(period * 1000) + 5000)
      if cost > 0 and straddles(period) then
        local k2 = window_key(key, period, 1)
        redis.call('INCRBY', k2, cost)
        redis.call('PEXPIRE', k2, math.ceil(period * 2000) + 5000)
      end
      table.insert(reply, tostring(total))
    else
      local tokens = bucket(key, limit, period) - cost
      redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', ARGV[2])
      redis.call('PEXPIRE', key, math.ceil(period * 2000) + 5000)
      table.insert(reply, tostring(limit - tokens))
    end
  end
  return reply

elseif op == 'observe' then
  local cool_until, ban_until = tonumber(ARGV[4]), tonumber(ARGV[5])
  for i, until_at in ipairs({cool_until, ban_until}) do
    if until_at > now and until_at > num(redis.call('GET', KEYS[i]), 0) then
      redis.call('SET', KEYS[i], tostring(until_at), 'PX', math.ceil((until_at - now) * 1000) + 1000)
    end
  end
  for i = 1, n do
    local b = 6 + (i - 1) * 4
    local kind, limit, period, value = ARGV[b], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), ARGV[b + 3]
    local key = KEYS[2 + i]
    if value ~= '' then
      value = tonumber(value)
      if kind == 'window' then
        local k = window_key(key, period)
        if value > num(redis.call('GET', k), 0) then
          redis.call('SET', k, value, 'PX', math.ceil(period * 1000) + 5000)
        end
      else
        local tokens = bucket(key, limit, period)
        if value < tokens then
          redis.call('HSET', key, 'tokens', tostring(value), 'ts', ARGV[2])
          redis.call('PEXPIRE', key, math.ceil(period * 2000) + 5000)
        end
      end
    end
  end
  return {'ok'}

elseif op == 'peek' then
  local reply = {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or ''}
  for i = 1, n do
    local b = 4 + (i - 1) * 3
    table.insert(reply, tostring(used(ARGV[b], KEYS[2 + i], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]))))
  end
  return reply
end
error({err = 'unknown budget op ' .. op})
