-- present: KEYS expiry; ARGV name, node id. 1 when the node is live.
-- needs: _prelude
local s = redis.call('ZSCORE', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
return (s and tonumber(s) > now) and 1 or 0
