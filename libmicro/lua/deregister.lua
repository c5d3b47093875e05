-- deregister: KEYS services, expiry; ARGV hash prefix, channel, name, id.
-- Returns 1 when the node was there.
-- needs: _prelude _remove
local old = remove(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return old and 1 or 0
