-- luacheck settings for roomd room scripts: the globals roomd's sandbox gives a
-- script and no others (docs/lua-api.md, "The sandbox"), so that a use of
-- print, require, io, os.execute, string.dump or a misspelt name is flagged
-- before roomd refuses it at run time. Copy this file beside your room scripts
-- (or run luacheck --config <this file> <scripts>).
stds.roomd = {
    read_globals = {
        "assert", "error", "getmetatable", "ipairs", "next", "now_ms", "pairs", "pcall",
        "rawequal", "rawget", "rawset", "select", "setmetatable", "tonumber", "tostring", "type",
        "unpack", "xpcall",
        string = {
            fields = {
                "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match", "rep",
                "reverse", "sub", "upper",
            },
        },
        table = {
            fields = { "concat", "foreach", "foreachi", "getn", "insert", "maxn", "move", "remove", "sort" },
        },
        math = {
            fields = {
                "abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "cosh", "deg", "exp", "floor",
                "fmod", "frexp", "huge", "ldexp", "log", "log10", "max", "min", "modf", "pi", "pow",
                "rad", "random", "randomseed", "sin", "sinh", "sqrt", "tan", "tanh",
            },
        },
        bit = {
            fields = {
                "arshift", "band", "bnot", "bor", "bswap", "bxor", "lshift", "rol", "ror", "rshift",
                "tobit", "tohex",
            },
        },
        os = { fields = { "clock", "date", "time" } },
        json = { fields = { "array", "decode", "encode", "is_array", "is_object", "null", "object" } },
        rooms = { fields = { "call", "send" } },
        http = { fields = { "fetch" } },
        log = { fields = { "error", "info", "warn" } },
    },
}
std = "roomd"
max_line_length = 120
