-- roomd's config for tests/integration/test_auth.py: the same room script behind
-- each kind of token check. The test sets ROOMD_TEST_JWT_SECRET before it starts
-- roomd; paths are relative to this file's folder.
return {
    host = "127.0.0.1",
    log_level = "debug", -- test_auth waits for its room's "hibernated" line
    limits = { hibernate_ms = 300 }, -- rooms hibernate quickly: conn.auth must survive it
    namespaces = {
        open = { script = "../tests/lua/whoami.lua" }, -- no auth: req.auth is nil
        optional = { -- a token is checked when one comes, none is needed
            script = "../tests/lua/whoami.lua",
            auth = { required = false, jwt = { alg = "HS256", secret_env = "ROOMD_TEST_JWT_SECRET" } },
        },
        secure = {
            script = "../tests/lua/whoami.lua",
            auth = {
                required = true,
                jwt = {
                    alg = "HS256",
                    secret_env = "ROOMD_TEST_JWT_SECRET",
                    issuer = "https://id.test",
                    audience = "roomd-test",
                    leeway_s = 5,
                },
            },
        },
        signed = { -- a public key: RS256
            script = "../tests/lua/whoami.lua",
            auth = { required = true, jwt = { alg = "RS256", public_key = "../tests/keys/rs256.pub" } },
        },
    },
}
