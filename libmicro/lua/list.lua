-- list: KEYS services, expiry; ARGV hash prefix, channel. Reaps every
-- expired node, then returns the names left.
-- needs: _prelude _remove _reap
while reap(KEYS[1], KEYS[2], ARGV[1], ARGV[2], 1000) == 1000 do end
return redis.call('SMEMBERS', KEYS[1])
