-- get: KEYS hash, expiry; ARGV name. Returns the live entries, each
-- followed by the ms it has left (-1: no expiry).
-- needs: _prelude
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local s = redis.call('ZSCORE', KEYS[2], ARGV[1] .. ' ' .. all[i])
  s = s and tonumber(s)
  if s and s > now then
    out[#out + 1] = all[i + 1]
    out[#out + 1] = s == math.huge and -1 or s - now
  end
end
return out
