-- lstr_cases.lua: run by tests/unit/test_lstr.c in a plain LuaJIT state where `string` and
-- `table` are LuaJIT's own and `bounded` holds roomd's find, match, gmatch, gsub and sort.
-- Each case runs through both; the results (or both raising) must agree. Returns the list of
-- disagreements as strings (empty when all agree) and the number of cases run.
local bounded = ...
local ref = { find = string.find, match = string.match, gmatch = string.gmatch,
    gsub = string.gsub, sort = table.sort }

local failures, cases = {}, 0

local function pack(...)
    return { n = select("#", ...), ... }
end

local function show(v)
    if type(v) == "string" then
        return string.format("%q", v)
    elseif type(v) == "table" then
        local parts = {}
        for i = 1, v.n or #v do
            parts[#parts + 1] = show(v[i])
        end
        return "{" .. table.concat(parts, ", ") .. "}"
    end
    return tostring(v)
end

local function same(a, b)
    if type(a) ~= type(b) then
        return false
    elseif type(a) ~= "table" then
        return a == b
    end
    if (a.n or #a) ~= (b.n or #b) then
        return false
    end
    for i = 1, a.n or #a do
        if not same(a[i], b[i]) then
            return false
        end
    end
    return true
end

-- Runs fn(lib) for both libraries: both raise, or both return the same values.
local function compare(label, fn)
    cases = cases + 1
    local want = pack(pcall(fn, ref))
    local got = pack(pcall(fn, bounded))
    local agree
    if not want[1] or not got[1] then
        agree = want[1] == got[1]
    else
        agree = same(want, got)
    end
    if not agree then
        failures[#failures + 1] = label .. ": LuaJIT " .. show(want) .. ", roomd " .. show(got)
    end
end

local function all_matches(lib, s, p)
    local out, it = {}, lib.gmatch(s, p)
    for _ = 1, 1000 do
        local r = pack(it())
        if r[1] == nil then
            break
        end
        out[#out + 1] = r
    end
    return out
end

local repl_table = { a = "A", b = false, ["1"] = 1, x = "[x]" }

local function repl_function(...)
    local n = select("#", ...)
    if n == 1 and (...) == "b" then
        return nil
    end
    return "<" .. table.concat({ ... }, "|", 1, n) .. ">"
end

-- Every way to run one subject and pattern.
local function check(s, p)
    local label = show(s) .. " ~ " .. show(p)
    compare("find " .. label, function(lib) return lib.find(s, p) end)
    compare("find@3 " .. label, function(lib) return lib.find(s, p, 3) end)
    compare("find@-2 " .. label, function(lib) return lib.find(s, p, -2) end)
    compare("find plain " .. label, function(lib) return lib.find(s, p, 1, true) end)
    compare("match " .. label, function(lib) return lib.match(s, p) end)
    compare("match@2 " .. label, function(lib) return lib.match(s, p, 2) end)
    compare("gmatch " .. label, function(lib) return all_matches(lib, s, p) end)
    compare("gsub string " .. label, function(lib) return lib.gsub(s, p, "[%0%1]") end)
    compare("gsub %% " .. label, function(lib) return lib.gsub(s, p, "%%-%a") end)
    compare("gsub table " .. label, function(lib) return lib.gsub(s, p, repl_table) end)
    compare("gsub function " .. label, function(lib) return lib.gsub(s, p, repl_function) end)
    compare("gsub max 2 " .. label, function(lib) return lib.gsub(s, p, "#", 2) end)
end

-- Hand-picked cases: every construct of Lua 5.1 patterns, edges of positions and captures.
local fixed = {
    { "hello world", "o w" }, { "hello world", "l+" }, { "hello world", "^h" },
    { "hello world", "^w" }, { "hello world", "d$" }, { "hello world", "o$" },
    { "hello", "" }, { "", "" }, { "", "^$" }, { "", "a*" }, { "abc", "" },
    { "aaa", "a-" }, { "aaa", "a-$" }, { "aaab", "a*b" }, { "aaab", "a+b" }, { "b", "a?b" },
    { "ab", "a?b" }, { "x = 10, y = 20", "(%w+) = (%w+)" }, { "key=val", "(%w+)=(%w*)" },
    { "hello", "()ll()" }, { "hello", "()" }, { "abc", "(a)(b)(c)" }, { "abc", "((a)(b))" },
    { "THE (quick) fox", "%((%a+)%)" }, { "f(a(b)c)d", "%b()" }, { "if [[x]] then", "%b[]" },
    { "THE (quick) fox", "%f[%a]%a+" }, { "hello world from Lua", "%f[%w]%w+" },
    { "the  end", "%f[%s]" }, { "abcabc", "(abc)%1" }, { "abab", "(a)(b)%1%2" },
    { "hello", "[aeiou]" }, { "hello", "[^aeiou]+" }, { "a-b", "[a-]" }, { "a]b", "[]]" },
    { "a^b", "[%^]" }, { "a^b", "[^^]" }, { "x%y", "%%" }, { "a.b", "%." }, { "a.b", "." },
    { "A1 b2", "%u%d" }, { "A1 b2", "%l%d" }, { "tab\there", "%c" }, { "a,b;c", "%p" },
    { "0x1F", "%x+" }, { "  pad  ", "^%s*(.-)%s*$" }, { "AbC", "%A" }, { "a1b2", "%D+" },
    { "a\0b", "%z" }, { "a\0b", "[%z]" }, { "a\0b", "a\0b" }, { "a\0b", "a\0c" },
    { "a$b", "$b" }, { "a$b", "a$" }, { "a$b", "%$" }, { "ab*", "b*" }, { "**", "**" },
    { "a+b", "a+b" }, { "one two  three", "%S+" }, { "caf\195\169", "[\128-\255]+" },
    { "2024-01-15", "(%d+)-(%d+)-(%d+)" }, { "/a/b/c", "[^/]+" }, { "a,b,,c", "([^,]*)" },
    { "aaa", "^a" }, { "abcd", "[b-c]+" }, { "abcd", "[c-b]" }, { "a.b.c", "%.(.-)%." },
    { "aXbXc", "X" }, { "abc", ".-" }, { "abc", ".-c" }, { "abc", "^(.-)b" }, { "g", "%g" },
    { "gG", "%G" }, { "abc", "[%a%d]+" }, { "a1_", "[%w_]+" }, { "[]", "[[]" }, { "ab", "[a][b]" },
    { "hello", "(h)(e)(l)(l)(o)" }, { "xyz", "()y()" }, { "aaa", "()a*()" },
    { "hello world", "(o)(.-)%1" }, { "abc", "%bac" }, { "((x)", "%b()" }, { "a b", "%f[%S].-%f[%s]" },
}

for _, c in ipairs(fixed) do
    check(c[1], c[2])
end

-- Malformed patterns: both raise where Lua reaches the fault; roomd raises always (Lua fails to
-- match before it reaches some, and leaves an unfinished capture alone if it is not used).
local function expect_error(label, fn)
    cases = cases + 1
    local ok, err = pcall(fn, bounded)
    if ok or type(err) ~= "string" then
        failures[#failures + 1] = label .. ": roomd did not raise"
    end
end

local malformed = { "(", "a(", "%", "a%", "[a", "[", "[^", "%b", "%bx", "%f", "%fa", "(()", ")",
    "a)", "%1", "(a)%2", "(a%1)", "%0", "[%", "[a-" }
for _, p in ipairs(malformed) do
    compare("match malformed " .. show(p), function(lib) return lib.match("a(b)c", p) end)
    expect_error("gsub malformed " .. show(p), function(lib) return lib.gsub("a(b)c", p, "") end)
    expect_error("match@4 malformed " .. show(p), function(lib) return lib.match("a(b)c", p, 4) end)
end

-- Arguments: numbers as strings, positions out of range, bad replacement values.
compare("find number", function(lib) return lib.find(12345, 34) end)
compare("match number pattern", function(lib) return lib.match(12345, "%d%d") end)
compare("find init past end", function(lib) return lib.find("abc", "", 10) end)
compare("find init past end, pattern", function(lib) return lib.find("abc", "c?", 10) end)
compare("find init 0", function(lib) return lib.find("abc", "a", 0) end)
compare("find init very negative", function(lib) return lib.find("abc", "a", -100) end)
compare("find init fraction", function(lib) return lib.find("abcabc", "a", 2.7) end)
compare("find init string", function(lib) return lib.find("abcabc", "a", "2") end)
compare("find plain specials", function(lib) return lib.find("a.b(c", "(c", 1, true) end)
compare("find plain empty", function(lib) return lib.find("abc", "", 2, true) end)
compare("find bad init", function(lib) return lib.find("abc", "a", {}) end)
compare("find no pattern", function(lib) return lib.find("abc") end)
compare("match no subject", function(lib) return lib.match(nil, "a") end)
compare("gsub repl number", function(lib) return lib.gsub("abc", "b", 7) end)
compare("gsub repl bad", function(lib) return lib.gsub("abc", "b", true) end)
compare("gsub repl missing", function(lib) return lib.gsub("abc", "b") end)
compare("gsub repl function bad value", function(lib) return lib.gsub("abc", "b", function() return {} end) end)
compare("gsub repl table bad value", function(lib) return lib.gsub("abc", "b", { b = {} }) end)
compare("gsub %2 without captures", function(lib) return lib.gsub("abc", "b", "%2") end)
compare("gsub %1 whole match", function(lib) return lib.gsub("abc", "b", "<%1>") end)
compare("gsub trailing %", function(lib) return lib.gsub("abc", "b", "x%") end)
compare("gsub max 0", function(lib) return lib.gsub("abc", "", "-", 0) end)
compare("gsub max negative", function(lib) return lib.gsub("abc", "", "-", -1) end)
compare("gsub max fraction", function(lib) return lib.gsub("aaaa", "a", "b", 2.5) end)
compare("gsub anchored", function(lib) return lib.gsub("aaa", "^a", "b") end)
compare("gsub empty matches", function(lib) return lib.gsub("abc", "x*", "-") end)
compare("gsub position capture", function(lib) return lib.gsub("abc", "()", "%1") end)
compare("gsub function position", function(lib) return lib.gsub("abc", "()b()", repl_function) end)
compare("gmatch anchor is a literal", function(lib) return all_matches(lib, "a^b^", "^.") end)
compare("gmatch position captures", function(lib) return all_matches(lib, "abc", "()") end)
compare("gmatch number", function(lib) return all_matches(lib, 1234, "%d") end)
compare("long subject", function(lib) return lib.find(("ab"):rep(5000) .. "c", "b+c") end)
compare("many captures", function(lib) return lib.match(("a"):rep(32), ("(a)"):rep(32)) end)
compare("too many captures", function(lib) return lib.match(("a"):rep(33), ("(a)"):rep(33)) end)
compare("too complex", function(lib) return lib.match("a", ("a*"):rep(300)) end)
compare("just not too complex", function(lib) return lib.match("a", ("a*"):rep(150)) end)
compare("graph class", function(lib) return lib.gsub("a b\tc~\127", "%g", ".") end)

-- Generated patterns: well-formed, from every construct, on subjects from a small alphabet.
math.randomseed(20240611)
local subject_bytes = { "a", "b", "c", "(", ")", " ", "1", "x", "-", "." }
local classes = { ".", "%a", "%d", "%s", "%w", "%p", "%x", "%A", "%S", "a", "b", "c", "x", "1",
    "%(", "%)", "%-", "%.", "[abc]", "[^a-c]", "[%a_]", "[%d%s]", "[a-]", "[]a]", " " }
local reps = { "", "", "", "*", "+", "-", "?" }

local function gen_subject()
    local t = {}
    for i = 1, math.random(0, 12) do
        t[i] = subject_bytes[math.random(#subject_bytes)]
    end
    return table.concat(t)
end

local function gen_pattern()
    local out, open, closed = {}, 0, 0
    if math.random(4) == 1 then
        out[#out + 1] = "^"
    end
    for _ = 1, math.random(1, 6) do
        local r = math.random(12)
        if r == 1 and open + closed < 6 then
            out[#out + 1] = "("
            open = open + 1
        elseif r == 2 and open > 0 then
            out[#out + 1] = ")"
            open, closed = open - 1, closed + 1
        elseif r == 3 then
            out[#out + 1] = "()"
        elseif r == 4 then
            out[#out + 1] = "%b()"
        elseif r == 5 then
            out[#out + 1] = "%f[%w]"
        elseif r == 6 and closed > 0 and open == 0 then
            out[#out + 1] = "%1"
        else
            out[#out + 1] = classes[math.random(#classes)] .. reps[math.random(#reps)]
        end
    end
    out[#out + 1] = (")"):rep(open)
    if math.random(4) == 1 then
        out[#out + 1] = "$"
    end
    return table.concat(out)
end

for _ = 1, 3000 do
    check(gen_subject(), gen_pattern())
end

-- table.sort: the same order (ties aside) for numbers, strings, comparators; the same errors.
local function sorted(lib, t, cmp)
    local copy = {}
    for i = 1, #t do
        copy[i] = t[i]
    end
    lib.sort(copy, cmp)
    return copy
end

for n = 0, 40 do
    local nums, strs = {}, {}
    for i = 1, n * 7 do
        nums[i] = math.random(-50, 50) + (i % 3 == 0 and 0.5 or 0)
        strs[i] = gen_subject()
    end
    compare("sort numbers " .. n, function(lib) return sorted(lib, nums) end)
    compare("sort strings " .. n, function(lib) return sorted(lib, strs) end)
    compare("sort descending " .. n, function(lib)
        return sorted(lib, nums, function(a, b) return a > b end)
    end)
end
compare("sort mixed types", function(lib) return sorted(lib, { 1, "a", 2 }) end)
compare("sort bad comparator", function(lib) return sorted(lib, { 1, 2 }, 5) end)
compare("sort not a table", function(lib) return lib.sort("abc") end)
compare("sort comparator error", function(lib)
    return sorted(lib, { 3, 1, 2 }, function() error("no", 0) end)
end)
compare("sort __lt", function(lib)
    local mt = { __lt = function(a, b) return a.v < b.v end }
    local t = {}
    for i = 1, 30 do
        t[i] = setmetatable({ v = (i * 17) % 31 }, mt)
    end
    local out = sorted(lib, t)
    for i = 1, #out do
        out[i] = out[i].v
    end
    return out
end)

return failures, cases
