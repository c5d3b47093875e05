-- group: KEYS stream; ARGV group, start ("$": what is published from
-- now, "0": from the oldest entry kept). Makes the consumer group (and
-- the stream) with its read counter set, so that XINFO GROUPS gives the
-- group's lag and messages trimmed before it read them can be counted
-- (XGROUP CREATE alone leaves the counter unknown). "OK", or "exists".
-- needs: 
local key, group, start = KEYS[1], ARGV[1], ARGV[2]
local id, read = '0', 0
if start == '$' and redis.call('EXISTS', key) == 1 then
    local info = redis.call('XINFO', 'STREAM', key)
    for i = 1, #info, 2 do
        if info[i] == 'last-generated-id' then id = info[i + 1] end
        if info[i] == 'entries-added' then read = info[i + 1] end
    end
end
local r = redis.pcall('XGROUP', 'CREATE', key, group, id, 'MKSTREAM',
                      'ENTRIESREAD', read)
if type(r) == 'table' and r.err and string.find(r.err, 'BUSYGROUP') then
    return 'exists'
end
return r
