-- A venue API's rate budgets, checked and charged together in one atomic step.
-- KEYS[1]: cooldown key (429), KEYS[2]: ban key (418), KEYS[3..]: one key per budget.
-- acquire: ARGV = 'acquire', now, n, guard, lease owner, lease end, then per budget: kind,
--   limit, allowed, period, cost, lease_allowed, lease_request, give_back, give_back_window
--   (a window charge made within `guard` seconds of its window's end is charged to the next
--   window too: the venue counts by arrival, and the request may arrive after the boundary;
--   a lease is budget charged now for the owner process to spend without asking: see below)
--   -> {'ok', '0', used_1, ..., used_n, leased_1, ..., leased_n}
--      | {'wait'|'cooldown'|'ban', seconds} | {'too_big', '0'}
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
  -- ARGV[4] guard, ARGV[5] lease owner ('' for none), ARGV[6] when its lease ends; then per
  -- budget (9 values from ARGV[7]): kind, limit, allowed, period, cost, lease_allowed,
  -- lease_request, give_back, give_back_window.
  local guard, owner, lease_until = tonumber(ARGV[4]), ARGV[5], ARGV[6]
  local S, B0 = 9, 7
  local function straddles(period)
    return (math.floor(now / period) + 1) * period - now < guard
  end
  -- first what the owner's previous lease left unspent goes back (a window's only while it
  -- is still the current window)
  for i = 1, n do
    local b = B0 + (i - 1) * S
    local kind, limit, period = ARGV[b], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 3])
    local back, back_window = tonumber(ARGV[b + 7]), tonumber(ARGV[b + 8])
    local key = KEYS[2 + i]
    if back > 0 then
      if kind == 'window' then
        if back_window == math.floor(now / period) then
          local k = window_key(key, period)
          if redis.call('DECRBY', k, back) < 0 then redis.call('SET', k, 0, 'KEEPTTL') end
        end
      else
        local tokens = bucket(key, limit, period)
        redis.call('HSET', key, 'tokens', tostring(math.min(limit, tokens + back)), 'ts', ARGV[2])
      end
    end
    if owner ~= '' then redis.call('HDEL', key .. ':leases', owner) end
  end
  local ban = num(redis.call('GET', KEYS[2]), 0)
  if now < ban then return {'ban', tostring(ban - now)} end
  local cool = num(redis.call('GET', KEYS[1]), 0)
  if now < cool then return {'cooldown', tostring(cool - now)} end
  local wait = 0
  for i = 1, n do
    local b = B0 + (i - 1) * S
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
  -- charge the call, then lease the owner up to lease_request more, never past lease_allowed
  -- (NORMAL's share) and never in a window's last `guard` seconds; a lease is recorded
  -- (amount, end, window) so that corrections from the venue's headers count it as spent.
  local reply, granted = {'ok', '0'}, {}
  for i = 1, n do
    local b = B0 + (i - 1) * S
    local kind, limit, period, cost = ARGV[b], tonumber(ARGV[b + 1]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
    local lease_allowed, request = tonumber(ARGV[b + 5]), tonumber(ARGV[b + 6])
    local key = KEYS[2 + i]
    local extra = 0
    if kind == 'window' then
      local k = window_key(key, period)
      local total = redis.call('INCRBY', k, cost)
      if request > 0 and not straddles(period) then
        extra = math.max(0, math.min(request, math.floor(lease_allowed - total)))
        if extra > 0 then total = redis.call('INCRBY', k, extra) end
      end
      redis.call('PEXPIRE', k, math.ceil(period * 1000) + 5000)
      if cost > 0 and straddles(period) then
        local k2 = window_key(key, period, 1)
        redis.call('INCRBY', k2, cost)
        redis.call('PEXPIRE', k2, math.ceil(period * 2000) + 5000)
      end
      table.insert(reply, tostring(total))
    else
      local tokens = bucket(key, limit, period) - cost
      if request > 0 then
        extra = math.max(0, math.min(request, math.floor(tokens - (limit - lease_allowed))))
        tokens = tokens - extra
      end
      redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', ARGV[2])
      redis.call('PEXPIRE', key, math.ceil(period * 2000) + 5000)
      table.insert(reply, tostring(limit - tokens))
    end
    if extra > 0 then
      local leases = key .. ':leases'
      redis.call('HSET', leases, owner, extra .. ':' .. lease_until .. ':' .. math.floor(now / period))
      redis.call('PEXPIRE', leases, math.ceil(period * 2000) + 5000)
    end
    table.insert(granted, tostring(extra))
  end
  for _, extra in ipairs(granted) do table.insert(reply, extra) end
  return reply

elseif op == 'observe' then
  -- leases not yet spent (as far as anyone knows): the venue does not count them, this
  -- ledger must; entries past their end (and a grace for clocks) are dropped
  local function leased(key, window)
    local h, sum = key .. ':leases', 0
    local flat = redis.call('HGETALL', h)
    for i = 1, #flat, 2 do
      local amount, ends, index = string.match(flat[i + 1], '^([^:]+):([^:]+):([^:]+)$')
      if tonumber(ends) + 1 < now then
        redis.call('HDEL', h, flat[i])
      elseif window == nil or tonumber(index) == window then
        sum = sum + tonumber(amount)
      end
    end
    return sum
  end
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
        value = value + leased(key, math.floor(now / period))
        if value > num(redis.call('GET', k), 0) then
          redis.call('SET', k, value, 'PX', math.ceil(period * 1000) + 5000)
        end
      else
        local tokens = bucket(key, limit, period)
        value = value - leased(key, nil)
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
