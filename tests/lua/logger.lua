-- logger.lua: a room that logs (tests/integration/test_logs.py). GET /logger/<id>?n=N&msg=M
-- logs N info lines "line <i> <M>", then one warn line with M alone; a POST's body is M.
local Logger = {}

function Logger.request(_, req)
    local msg = req.body ~= "" and req.body or req.query.msg or ""
    for i = 1, tonumber(req.query.n or 1) do
        log.info("line", i, msg)
    end
    log.warn(msg)
    return { json = { ok = true } }
end

return Logger
