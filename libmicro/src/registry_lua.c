/* The registry's Lua scripts; see micro/registry_format.h for the keys. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "micro/error.h"
#include "micro/registry_format.h"

/* Every script: now in ms from Redis's clock, and the event publisher. */
#define MICRO_LUA_PRELUDE                                                    \
    "if redis.replicate_commands then redis.replicate_commands() end\n"      \
    "local t = redis.call('TIME')\n"                                         \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"\
    "local function publish(channel, action, entry, ttl)\n"                 \
    "  local t = ttl and ',\"ttl\":' .. ttl or ''\n"                           \
    "  redis.call('PUBLISH', channel, '{\"action\":\"' .. action .. '\"'\n"    \
    "    .. t .. ',\"service\":' .. entry .. '}')\n"                          \
    "end\n"

/* Removes one node; publishes "delete" with its last entry. */
#define MICRO_LUA_REMOVE                                                     \
    "local function remove(services, expiry, svcprefix, channel, name, id)\n"\
    "  local hash = svcprefix .. name\n"                                     \
    "  local old = redis.call('HGET', hash, id)\n"                           \
    "  redis.call('HDEL', hash, id)\n"                                       \
    "  redis.call('ZREM', expiry, name .. ' ' .. id)\n"                      \
    "  if redis.call('HLEN', hash) == 0 then\n"                              \
    "    redis.call('SREM', services, name)\n"                               \
    "  end\n"                                                                \
    "  if old then publish(channel, 'delete', old) end\n"                    \
    "  return old\n"                                                         \
    "end\n"

#define MICRO_LUA_REAP_ALL                                                   \
    "local function reap(services, expiry, svcprefix, channel, limit)\n"     \
    "  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', now,\n"      \
    "                          'LIMIT', 0, limit)\n"                         \
    "  for _, m in ipairs(gone) do\n"                                        \
    "    local sp = string.find(m, ' ', 1, true)\n"                          \
    "    if sp then\n"                                                       \
    "      remove(services, expiry, svcprefix, channel,\n"                   \
    "             string.sub(m, 1, sp - 1), string.sub(m, sp + 1))\n"        \
    "    else\n"                                                             \
    "      redis.call('ZREM', expiry, m)\n"                                  \
    "    end\n"                                                              \
    "  end\n"                                                                \
    "  return #gone\n"                                                       \
    "end\n"

const char  *micro_lua_scripts[MICRO_LUA_NSCRIPTS] = {

    /* register: KEYS services, hash, expiry; ARGV name, id, entry, ttl ms,
     * channel. Returns "create", "update" or "refresh". */
    MICRO_LUA_PRELUDE
    "local member = ARGV[1] .. ' ' .. ARGV[2]\n"
    "local old = redis.call('HGET', KEYS[2], ARGV[2])\n"
    "local exp = redis.call('ZSCORE', KEYS[3], member)\n"
    "local live = old and exp and tonumber(exp) > now\n"
    "local ttl = tonumber(ARGV[4])\n"
    "redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])\n"
    "redis.call('ZADD', KEYS[3], ttl > 0 and now + ttl or '+inf', member)\n"
    "redis.call('SADD', KEYS[1], ARGV[1])\n"
    "local action = 'refresh'\n"
    "if not live then action = 'create'\n"
    "elseif old ~= ARGV[3] then action = 'update' end\n"
    "if action ~= 'refresh' then publish(ARGV[5], action, ARGV[3], ttl) end\n"
    "return action\n",

    /* deregister: KEYS services, expiry; ARGV hash prefix, channel, name,
     * id. Returns 1 when the node was there. */
    MICRO_LUA_PRELUDE
    MICRO_LUA_REMOVE
    "local old = remove(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3],"
    " ARGV[4])\n"
    "return old and 1 or 0\n",

    /* get: KEYS hash, expiry; ARGV name. Returns the live entries, each
     * followed by the ms it has left (-1: no expiry). */
    MICRO_LUA_PRELUDE
    "local all = redis.call('HGETALL', KEYS[1])\n"
    "local out = {}\n"
    "for i = 1, #all, 2 do\n"
    "  local s = redis.call('ZSCORE', KEYS[2], ARGV[1] .. ' ' .. all[i])\n"
    "  s = s and tonumber(s)\n"
    "  if s and s > now then\n"
    "    out[#out + 1] = all[i + 1]\n"
    "    out[#out + 1] = s == math.huge and -1 or s - now\n"
    "  end\n"
    "end\n"
    "return out\n",

    /* reap: KEYS services, expiry; ARGV hash prefix, channel, limit. */
    MICRO_LUA_PRELUDE
    MICRO_LUA_REMOVE
    MICRO_LUA_REAP_ALL
    "return reap(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))\n",

    /* list: as reap (everything expired), then the names left. */
    MICRO_LUA_PRELUDE
    MICRO_LUA_REMOVE
    MICRO_LUA_REAP_ALL
    "while reap(KEYS[1], KEYS[2], ARGV[1], ARGV[2], 1000) == 1000 do end\n"
    "return redis.call('SMEMBERS', KEYS[1])\n",

    /* present: KEYS expiry; ARGV name, node id. 1 when the node is live. */
    MICRO_LUA_PRELUDE
    "local s = redis.call('ZSCORE', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])\n"
    "return (s and tonumber(s) > now) and 1 or 0\n",
};
