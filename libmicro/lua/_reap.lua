-- Removes up to limit nodes whose expiry is due; returns how many.
local function reap(services, expiry, svcprefix, channel, limit)
  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', now,
                          'LIMIT', 0, limit)
  for _, m in ipairs(gone) do
    local sp = string.find(m, ' ', 1, true)
    if sp then
      remove(services, expiry, svcprefix, channel,
             string.sub(m, 1, sp - 1), string.sub(m, sp + 1))
    else
      redis.call('ZREM', expiry, m)
    end
  end
  return #gone
end
