-- register: KEYS services, hash, expiry; ARGV name, id, entry, ttl ms
-- (0: none), channel. Returns "create", "update" or "refresh"; a refresh
-- of the same entry publishes nothing, so heartbeats cost no events.
-- needs: _prelude
local member = ARGV[1] .. ' ' .. ARGV[2]
local old = redis.call('HGET', KEYS[2], ARGV[2])
local exp = redis.call('ZSCORE', KEYS[3], member)
local live = old and exp and tonumber(exp) > now
local ttl = tonumber(ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], ttl > 0 and now + ttl or '+inf', member)
redis.call('SADD', KEYS[1], ARGV[1])
local action = 'refresh'
if not live then action = 'create'
elseif old ~= ARGV[3] then action = 'update' end
if action ~= 'refresh' then publish(ARGV[5], action, ARGV[3], ttl) end
return action
