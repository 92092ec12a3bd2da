-- wrk script: GET /counter/<id> spread over ROOMS rooms (default 100).
-- wrk -t1 -c64 -d5s -s tests/bench/counter_get.lua http://127.0.0.1:8080
local rooms = tonumber(os.getenv("ROOMS") or "100")
local n = 0

function request()
    n = n + 1
    return wrk.format("GET", "/counter/bench-" .. (n % rooms))
end
