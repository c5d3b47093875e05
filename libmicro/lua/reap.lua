-- reap: KEYS services, expiry; ARGV hash prefix, channel, limit. Removes
-- up to limit expired nodes, publishing a delete for each.
-- needs: _prelude _remove _reap
return reap(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))
