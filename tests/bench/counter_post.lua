-- wrk script: POST /counter/<id> spread over ROOMS rooms (default 100).
-- wrk -t2 -c64 -d10s -s tests/bench/counter_post.lua http://127.0.0.1:8080
local rooms = tonumber(os.getenv("ROOMS") or "100")
local n = 0

function request()
    n = n + 1
    return wrk.format("POST", "/counter/bench-" .. (n % rooms), nil, "")
end
