-- Removes one node; publishes "delete" with its last entry.
local function remove(services, expiry, svcprefix, channel, name, id)
  local hash = svcprefix .. name
  local old = redis.call('HGET', hash, id)
  redis.call('HDEL', hash, id)
  redis.call('ZREM', expiry, name .. ' ' .. id)
  if redis.call('HLEN', hash) == 0 then
    redis.call('SREM', services, name)
  end
  if old then publish(channel, 'delete', old) end
  return old
end
