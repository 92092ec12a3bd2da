-- fetcher.lua: outbound HTTP (tests/integration/test_fetch.py). GET /fetcher/<id>?url=<url>
-- [&method=][&timeout=][&json=1] fetches url with http.fetch and answers what came back:
-- {ok = true, status =, body =, json =, header =} (header: the response's x-test header), or
-- {ok = false, error =} for nil, "error", or {raised = message} when http.fetch raised.
local Fetcher = {}

function Fetcher.request(_, req)
    local q = req.query
    local opts = { method = q.method, timeout_ms = tonumber(q.timeout), headers = { ["x-from"] = "roomd" } }
    if q.json then
        opts.json = { hello = "world", n = 3 }
    end
    local good, res, err = pcall(http.fetch, q.url, opts)
    if not good then
        return { json = { raised = res } }
    end
    if not res then
        return { json = { ok = false, error = err } }
    end
    return {
        json = {
            ok = true,
            status = res.status,
            body = res.body,
            json = res.json,
            header = res.headers["x-test"],
        },
    }
end

return Fetcher
