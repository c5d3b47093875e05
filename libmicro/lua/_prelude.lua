-- Every script starts with this: the time from Redis's own clock (so
-- expiry does not depend on the clients' clocks), and the publisher of
-- watch events.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function publish(channel, action, entry, ttl)
  local t = ttl and ',"ttl":' .. ttl or ''
  redis.call('PUBLISH', channel, '{"action":"' .. action .. '"'
    .. t .. ',"service":' .. entry .. '}')
end
