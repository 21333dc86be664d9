-- GCRA (Generic Cell Rate Algorithm, ATM Forum Traffic Management 4.0, the "virtual scheduling"
-- form; as in redis-cell). One call checks every limit named in KEYS at once: either all of them
-- admit the call and each key's theoretical arrival time (TAT) moves on by one emission
-- interval, or none is touched and the reply says how long until all would admit it.
--
-- KEYS[i]       the TAT of limit i, microseconds since the Unix epoch (Redis server clock)
-- ARGV[2i-1]    emission interval T of limit i, microseconds (period / count)
-- ARGV[2i]      burst tolerance tau of limit i, microseconds (T * (count - 1))
-- Reply: { allowed (1|0), retry_after_us, index of the limit that waits longest (1-based, 0) }
-- Every key expires when its budget is full again (TTL = TAT - now).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
local wait, worst = 0, 0
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - interval - tolerance
  if allow_at > now and allow_at - now > wait then
    wait = allow_at - now
    worst = i
  end
  tats[i] = new_tat
end
if worst > 0 then
  return { 0, wait, worst }
end
for i, key in ipairs(KEYS) do
  local ttl_ms = math.ceil((tats[i] - now) / 1000)
  redis.call('SET', key, string.format('%d', tats[i]), 'PX', math.max(ttl_ms, 1))
end
return { 1, 0, 0 }
