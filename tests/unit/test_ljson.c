/* Unit tests for lua/ljson.c: JSON <-> Lua conversion, the `json` module as scripts see it, and
 * out-of-memory behaviour (a Lua heap with a byte limit). Every check prints both sides when it
 * fails; the last line counts passes and failures, and the exit status is non-zero if anything
 * failed. */
#include "ljson.h"

#include "check.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_MAX 256

/* -- helpers -------------------------------------------------------------------------------- */

static int open_json(lua_State *L) {
    luaL_openlibs(L);
    ljson_open(L);
    lua_setglobal(L, "json");
    return 0;
}

static lua_State *new_state(void) {
    lua_State *L = luaL_newstate();
    if (!L || lua_cpcall(L, open_json, NULL) != 0) {
        fprintf(stderr, "cannot create a Lua state\n");
        exit(2);
    }
    return L;
}

/* Pushes the value of Lua expression expr. */
static void push_expr(lua_State *L, const char *expr) {
    char chunk[4096];
    snprintf(chunk, sizeof chunk, "return %s", expr);
    if (luaL_dostring(L, chunk) != 0) {
        fprintf(stderr, "bad test expression %s: %s\n", expr, lua_tostring(L, -1));
        exit(2);
    }
}

/* Encodes the value of expr with ljson_encode; the text (to free) or NULL with err set. Checks
 * that the stack is left as found and that the length matches. */
static char *encode_expr(lua_State *L, const char *expr, int depth, char *err, int line) {
    push_expr(L, expr);
    int top = lua_gettop(L);
    size_t len = 0;
    char *out = ljson_encode(L, -1, depth, &len, err, ERR_MAX);
    check_report(lua_gettop(L) == top, line, expr, "stack %d after encode, want %d", lua_gettop(L),
                 top);
    if (out && strlen(out) != len)
        check_report(0, line, expr, "length %zu, text '%s'", len, out);
    lua_pop(L, 1);
    return out;
}

static void expect_encode(lua_State *L, int line, const char *expr, const char *want) {
    char err[ERR_MAX] = "";
    char *out = encode_expr(L, expr, 64, err, line);
    check_report(out && strcmp(out, want) == 0, line, expr, "got '%s' (%s), want '%s'",
                 out ? out : "NULL", err, want);
    free(out);
}

static void expect_encode_error(lua_State *L, int line, const char *expr, int depth,
                                const char *part) {
    char err[ERR_MAX] = "";
    char *out = encode_expr(L, expr, depth, err, line);
    check_report(!out && strstr(err, part), line, expr, "got '%s' / '%s', want an error with '%s'",
                 out ? out : "NULL", err, part);
    free(out);
}

/* Decodes len bytes of text; returns ljson_decode's result, leaving the value pushed on success.
 * Checks the stack height. */
static int decode(lua_State *L, const char *text, size_t len, int depth, char *err, int line) {
    int top = lua_gettop(L);
    int rc = ljson_decode(L, text, len, depth, err, ERR_MAX);
    int want = top + (rc == 0 ? 1 : 0);
    check_report(lua_gettop(L) == want, line, text, "stack %d after decode (rc %d), want %d",
                 lua_gettop(L), rc, want);
    return rc;
}

/* Decodes text then encodes the result, expecting want. */
static void expect_roundtrip(lua_State *L, int line, const char *text, const char *want) {
    char err[ERR_MAX] = "";
    size_t len = 0;
    char *out = NULL;
    if (decode(L, text, strlen(text), 64, err, line) == 0) {
        out = ljson_encode(L, -1, 64, &len, err, ERR_MAX);
        lua_pop(L, 1);
    }
    check_report(out && strcmp(out, want) == 0, line, text, "got '%s' (%s), want '%s'",
                 out ? out : "NULL", err, want);
    free(out);
}

static void expect_decode_error(lua_State *L, int line, const char *text, size_t len, int depth,
                                const char *part) {
    char err[ERR_MAX] = "";
    int rc = decode(L, text, len, depth, err, line);
    if (rc == 0)
        lua_pop(L, 1);
    check_report(rc == -1 && strstr(err, part), line, text,
                 "got rc %d / '%s', want an error with '%s'", rc, err, part);
}

/* Runs a Lua chunk that returns true when all its asserts hold. */
static void expect_lua(lua_State *L, int line, const char *chunk) {
    int top = lua_gettop(L);
    int rc = luaL_dostring(L, chunk);
    int ok = rc == 0 && lua_toboolean(L, -1);
    check_report(ok, line, "Lua chunk", "%s", rc ? lua_tostring(L, -1) : "did not return true");
    lua_settop(L, top);
}

/* -- round trips and the mapping ------------------------------------------------------------ */

static void test_roundtrips(lua_State *L) {
    expect_roundtrip(L, __LINE__, "\"h\\u00e9llo \\\"w\\\" \\n\\t\\\\ \\u20ac\"",
                     "\"h\xc3\xa9llo \\\"w\\\" \\n\\t\\\\ \xe2\x82\xac\"");
    expect_roundtrip(L, __LINE__, "true", "true");
    expect_roundtrip(L, __LINE__, "false", "false");
    expect_roundtrip(L, __LINE__, "null", "null");
    expect_roundtrip(L, __LINE__, " 42 ", "42");
    expect_roundtrip(L, __LINE__, "[]", "[]");
    expect_roundtrip(L, __LINE__, "{}", "{}");
    expect_roundtrip(L, __LINE__, "[[],{}]", "[[],{}]");
    expect_roundtrip(L, __LINE__, "{\"a\":[1,[2,[3,{}]],{\"b\":[]}]}",
                     "{\"a\":[1,[2,[3,{}]],{\"b\":[]}]}");
    expect_roundtrip(L, __LINE__, "[null,1,null]", "[null,1,null]");
    expect_roundtrip(L, __LINE__, "{\"1\":\"a\"}", "{\"1\":\"a\"}");
    expect_roundtrip(L, __LINE__, "{\"a\":null}", "{\"a\":null}");
    expect_roundtrip(L, __LINE__, "[\"\xf0\x9f\x98\x80\",\"\\ud83d\\ude00\"]",
                     "[\"\xf0\x9f\x98\x80\",\"\xf0\x9f\x98\x80\"]");
}

static void test_numbers(lua_State *L) {
    expect_roundtrip(L, __LINE__, "[1,-0,1.5,-2.25e-3]", "[1,0,1.5,-0.0022499999999999998]");
    expect_roundtrip(L, __LINE__, "9007199254740992", "9007199254740992");
    expect_roundtrip(L, __LINE__, "9007199254740994", "9007199254740994.0");
    expect_roundtrip(L, __LINE__, "1e300", "1.0000000000000001e300");
    expect_roundtrip(L, __LINE__, "123456789012345678901234567890", "1.2345678901234568e29");
    expect_encode(L, __LINE__, "{1, -0, 1.5, 2^53, -2^53, 2^53 + 2, 1e300, 0.1}",
                  "[1,0,1.5,9007199254740992,-9007199254740992,9007199254740994.0,"
                  "1.0000000000000001e300,0.10000000000000001]");
    expect_lua(L, __LINE__,
               "local v = json.decode('[1,-0,1.5,9007199254740994,1e300,0.1]')\n"
               "assert(v[1] == 1 and v[2] == 0 and 1 / v[2] < 0 and v[3] == 1.5)\n"
               "assert(v[4] == 2^53 + 2 and v[5] == 1e300 and v[6] == 0.1)\n"
               "for _, x in ipairs({0.1, 1/3, -1e-300, 2^60 + 2^8, 123.456}) do\n"
               "  assert(json.decode(json.encode(x)) == x, x)\n"
               "end\n"
               "return true");
    expect_encode_error(L, __LINE__, "0/0", 64, "NaN");
    expect_encode_error(L, __LINE__, "{a = {math.huge}}", 64, "NaN or infinity (at index 1)");
    expect_encode_error(L, __LINE__, "-math.huge", 64, "infinity");
    expect_decode_error(L, __LINE__, "1e400", 5, 64, "overflow");
}

static void test_tables(lua_State *L) {
    expect_encode(L, __LINE__, "{}", "{}");
    expect_encode(L, __LINE__, "json.array({})", "[]");
    expect_encode(L, __LINE__, "json.array()", "[]");
    expect_encode(L, __LINE__, "json.object({1, 2})", "{\"1\":1,\"2\":2}");
    expect_encode(L, __LINE__, "{'a', {b = {true, false}}}", "[\"a\",{\"b\":[true,false]}]");
    expect_encode(L, __LINE__, "{[1.5] = 1}", "{\"1.5\":1}");
    expect_encode(L, __LINE__, "{[-3] = 1}", "{\"-3\":1}");
    expect_encode(L, __LINE__, "{[2^53 + 2] = 1}", "{\"9007199254740994\":1}");
    expect_encode(L, __LINE__, "{json.null, 2}", "[null,2]");
    expect_encode(L, __LINE__, "json.null", "null");
    expect_encode(L, __LINE__, "nil", "null");
    expect_encode(L, __LINE__, "setmetatable({1}, {__index = function() error('x') end})", "[1]");
    /* 1..n plus other keys, or holes: an object with every key as a string */
    expect_lua(L, __LINE__,
               "local o = json.decode(json.encode({10, 20, x = 'y'}))\n"
               "assert(json.is_object(o) and o['1'] == 10 and o['2'] == 20 and o.x == 'y')\n"
               "local n = 0 for _ in pairs(o) do n = n + 1 end assert(n == 3)\n"
               "local h = json.decode(json.encode({1, nil, 3}))\n"
               "assert(h['1'] == 1 and h['3'] == 3 and h['2'] == nil)\n"
               "return true");
    expect_encode_error(L, __LINE__, "json.array({1, x = 2})", 64, "mixed table");
    expect_encode_error(L, __LINE__, "{json.array({1, nil, 3})}", 64, "(at index 1)");
    expect_encode_error(L, __LINE__, "{[1] = 'a', ['1'] = 'b'}", 64, "duplicate key");
    expect_encode_error(L, __LINE__, "{[true] = 1}", 64, "not a boolean");
    expect_encode_error(L, __LINE__, "{[{}] = 1}", 64, "not a table");
    expect_encode_error(L, __LINE__, "{f = function() end}", 64,
                        "cannot encode a function (at key \"f\")");
    expect_encode_error(L, __LINE__, "{coroutine.create(print)}", 64, "cannot encode a thread");
    expect_encode_error(L, __LINE__, "newproxy()", 64, "cannot encode a userdata");
}

static void test_null_and_marks(lua_State *L) {
    expect_lua(L, __LINE__,
               "assert(json.decode('null') == json.null)\n"
               "assert(type(json.null) == 'userdata')\n"
               "local a = json.decode('[null, 2, null]')\n"
               "assert(#a == 3 and a[1] == json.null and a[3] == json.null)\n"
               "assert(json.is_array(a) and not json.is_object(a))\n"
               "local o = json.decode('{\"k\": {}}')\n"
               "assert(json.is_object(o) and json.is_object(o.k) and not json.is_array(o))\n"
               "assert(not json.is_array({}) and not json.is_object('x'))\n"
               "assert(not json.is_array(nil) and not json.is_object(json.null))\n"
               "local t = {} assert(json.array(t) == t and json.is_array(t))\n"
               "assert(json.object(t) == t and json.is_object(t) and not json.is_array(t))\n"
               "assert(not pcall(json.array, 1) and not pcall(json.object, nil))\n"
               "a[#a + 1] = 'x' assert(json.encode(a) == '[null,2,null,\"x\"]')\n"
               "o.k[1] = true assert(json.encode(o) == '{\"k\":{\"1\":true}}')\n"
               "return true");
    lua_newtable(L);
    CHECK_INT(ljson_mark(L, -1, LJSON_ARRAY), 0);
    char err[ERR_MAX];
    size_t len;
    char *out = ljson_encode(L, -1, 64, &len, err, sizeof err);
    CHECK_STR(out, "[]");
    free(out);
    CHECK_INT(ljson_mark(L, -1, LJSON_OBJECT), 0);
    out = ljson_encode(L, -1, 64, &len, err, sizeof err);
    CHECK_STR(out, "{}");
    free(out);
    lua_pushnumber(L, 1);
    CHECK_INT(ljson_mark(L, -1, LJSON_ARRAY), -1);
    lua_pop(L, 2);
}

/* -- errors --------------------------------------------------------------------------------- */

static void test_invalid_json(lua_State *L) {
    static const char *const bad[] = {"",       "  ",    "{",         "[1,]",  "nul",
                                      "[1] x",  "'a'",   "{\"a\" 1}", "{a:1}", "[01]",
                                      "\"\t\"", "[1 2]", "{\"a\":}",  "-",     NULL};
    for (const char *const *t = bad; *t; t++)
        expect_decode_error(L, __LINE__, *t, strlen(*t), 64, "invalid JSON");
    expect_decode_error(L, __LINE__, "\"\xff\"", 3, 64, "UTF-8");
    expect_decode_error(L, __LINE__, "\"\xc0\x80\"", 4, 64, "UTF-8");
    expect_decode_error(L, __LINE__, "\"\xed\xa0\x80\"", 5, 64, "UTF-8");
    expect_decode_error(L, __LINE__, "[\"\xe2\x82\"]", 5, 64, "UTF-8");
    expect_decode_error(L, __LINE__, "\"\\ud800\"", 8, 64, "invalid JSON");
    expect_decode_error(L, __LINE__, "[1]\0", 4, 64, "invalid JSON");
}

static void test_invalid_utf8_encode(lua_State *L) {
    static const char *const bad[] = {"'\\255'",           "'a\\192\\128'",
                                      "'\\237\\160\\128'", "'\\244\\144\\128\\128'",
                                      "'\\226\\130'",      "'\\248\\136\\128\\128\\128'",
                                      "'abcdefgh\\255'",   NULL};
    for (const char *const *t = bad; *t; t++)
        expect_encode_error(L, __LINE__, *t, 64, "not valid UTF-8");
    expect_encode_error(L, __LINE__, "{['\\255'] = 1}", 64, "key is not valid UTF-8");
    expect_encode_error(L, __LINE__, "{x = {'ok', '\\128'}}", 64, "UTF-8 (at index 2)");
    expect_encode(L, __LINE__, "'\\244\\143\\191\\191 \\239\\191\\191 abcdefghijkl\\226\\130\\172'",
                  "\"\xf4\x8f\xbf\xbf \xef\xbf\xbf abcdefghijkl\xe2\x82\xac\"");
}

static void test_binary_strings(lua_State *L) {
    char err[ERR_MAX] = "";
    static const char text[] = "\"a\\u0000b\"";
    if (decode(L, text, sizeof text - 1, 64, err, __LINE__) == 0) {
        size_t len = 0;
        const char *s = lua_tolstring(L, -1, &len);
        CHECK(len == 3 && memcmp(s, "a\0b", 3) == 0);
        char *out = ljson_encode(L, -1, 64, &len, err, sizeof err);
        CHECK_STR(out, text);
        free(out);
        lua_pop(L, 1);
    } else {
        check_report(0, __LINE__, text, "decode failed: %s", err);
    }
    expect_encode(L, __LINE__, "{s = 'x\\0y\\1'}", "{\"s\":\"x\\u0000y\\u0001\"}");
    /* Jansson refuses NUL in object keys when decoding, so encoding refuses them too */
    expect_decode_error(L, __LINE__, "{\"a\\u0000\":1}", 13, 64, "NUL byte in object key");
    expect_encode_error(L, __LINE__, "{['a\\0'] = 1}", 64, "NUL byte");
}

/* Pushes a Lua expression for `levels` nested single-element arrays around 1. */
static const char *nested_expr(int levels) {
    static char buf[256];
    snprintf(buf, sizeof buf,
             "(function() local t = 1 for i = 1, %d do t = {t} end return t end)()", levels);
    return buf;
}

static char *nested_text(int levels) {
    char *s = malloc(2 * (size_t)levels + 2);
    memset(s, '[', (size_t)levels);
    s[levels] = '1';
    memset(s + levels + 1, ']', (size_t)levels);
    s[2 * levels + 1] = '\0';
    return s;
}

static void test_depth(lua_State *L) {
    char err[ERR_MAX] = "";
    char *text = nested_text(64);
    CHECK_INT(decode(L, text, strlen(text), 64, err, __LINE__), 0);
    lua_pop(L, 1);
    expect_decode_error(L, __LINE__, text, strlen(text), 63, "nesting deeper than 63");
    free(text);
    text = nested_text(3000); /* past Jansson's own limit of 2048 */
    expect_decode_error(L, __LINE__, text, strlen(text), 10000, "nesting deeper than 2048");
    free(text);
    expect_decode_error(L, __LINE__, "[]", 2, 0, "nesting deeper than 0");
    expect_roundtrip(L, __LINE__, "\"scalar\"", "\"scalar\"");
    CHECK_INT(decode(L, "7", 1, 0, err, __LINE__), 0);
    lua_pop(L, 1);

    char *out = encode_expr(L, nested_expr(64), 64, err, __LINE__);
    CHECK(out && strlen(out) == 129);
    free(out);
    expect_encode_error(L, __LINE__, nested_expr(65), 64, "nesting deeper than 64");
    expect_encode_error(L, __LINE__, "{}", 0, "nesting deeper than 0");
    expect_encode(L, __LINE__, "{{{{}}}}", "[[[{}]]]");
    expect_encode_error(L, __LINE__, "(function() local t = {} t.self = t return t end)()", 64,
                        "or a cycle");
    expect_encode_error(L, __LINE__, "(function() local t = {} t[1] = t return t end)()", 1000,
                        "or a cycle");
    expect_lua(L, __LINE__,
               "local deep = string.rep('[', 65) .. string.rep(']', 65)\n"
               "local v, err = json.decode(deep)\n"
               "assert(v == nil and err:find('nesting deeper than 64'), err)\n"
               "assert(json.decode(string.rep('[', 64) .. string.rep(']', 64)))\n"
               "return true");
}

/* Edge cases where the codec must behave as the Jansson-backed one did (each was checked
 * against it): number syntax, escapes, surrogates, duplicate keys, whitespace, output escaping. */
static void test_compat(lua_State *L) {
    expect_roundtrip(L, __LINE__, " \t\r\n[ 1 , 2 ]\n", "[1,2]");
    expect_roundtrip(L, __LINE__, "[1E2,1e+2,2.5E-1,-0.0,0e0,1e-400]", "[100,100,0.25,0,0,0]");
    expect_roundtrip(L, __LINE__, "[9007199254740993,-9007199254740993,18446744073709551617]",
                     "[9007199254740992,-9007199254740992,1.8446744073709552e19]");
    expect_roundtrip(L, __LINE__, "[0.000015,1e-7,123456.789e3,5e-324]",
                     "[1.5e-5,9.9999999999999995e-8,123456789,4.9406564584124654e-324]");
    expect_roundtrip(L, __LINE__, "[1e21,-1e22,1e15]", "[1e21,-1e22,1000000000000000]");
    expect_roundtrip(L, __LINE__, "\"\\/\\b\\f\\n\\r\\t\\u001f\\u007f/\\u00E9\"",
                     "\"/\\b\\f\\n\\r\\t\\u001F\x7f/\xc3\xa9\"");
    expect_roundtrip(L, __LINE__, "\"\\uD83D\\uDE00\\uffff\"", "\"\xf0\x9f\x98\x80\xef\xbf\xbf\"");
    expect_roundtrip(L, __LINE__, "{\"a\":1,\"a\":2}", "{\"a\":2}");
    expect_roundtrip(L, __LINE__, "{\"a\":1,\"a\":null}", "{\"a\":null}");
    expect_roundtrip(L, __LINE__, "{\"\":[\"\"]}", "{\"\":[\"\"]}");
    expect_encode(L, __LINE__, "'\\1\\31 \\127 \"\\\\'", "\"\\u0001\\u001F \x7f \\\"\\\\\"");
    expect_encode(L, __LINE__, "{[1e300] = 1}", "{\"1.0000000000000001e+300\":1}");
    expect_encode(L, __LINE__, "{[-2^53] = 2}", "{\"-9007199254740992\":2}");
    expect_encode(L, __LINE__, "{1e-5, 1e100, -1.5e-300, 2^63, 1/3}",
                  "[1.0000000000000001e-5,1e100,-1.5000000000000001e-300,9.2233720368547758e18,"
                  "0.33333333333333331]");
    static const char *const bad[] = {"\"\\ud800x\"",
                                      "\"\\udc00\"",
                                      "\"\\ud800\\u0041\"",
                                      "\"\\ud800\\ud800\"",
                                      "\"\\u12\"",
                                      "\"\\u12g4\"",
                                      "\"\\x\"",
                                      "\"\\'\"",
                                      "\"abc",
                                      "\"\\",
                                      "[1.]",
                                      "[.5]",
                                      "[1e]",
                                      "[1e+]",
                                      "[+1]",
                                      "[-]",
                                      "[-01]",
                                      "[00]",
                                      "[0x1]",
                                      "[Infinity]",
                                      "[NaN]",
                                      "[tru]",
                                      "[truex]",
                                      "[True]",
                                      "[nulll]",
                                      "{\"a\":1,}",
                                      "{,}",
                                      "[,]",
                                      "{\"a\"}",
                                      "{\"a\":1 \"b\":2}",
                                      "{1:2}",
                                      "[1]]",
                                      "[[1]",
                                      "\"a\"\"b\"",
                                      "1 2",
                                      "\xef\xbb\xbf[]",
                                      "[1]\x0b",
                                      "[\f1]",
                                      NULL};
    for (const char *const *t = bad; *t; t++)
        expect_decode_error(L, __LINE__, *t, strlen(*t), 64, "invalid");
    /* The Jansson parser skipped one NUL byte after a number or literal (it accepted "1\0" and
     * "[true\0]"); the direct parser refuses every NUL byte outside a string, as RFC 8259 does */
    expect_decode_error(L, __LINE__, "1\0", 2, 64, "invalid JSON");
    expect_decode_error(L, __LINE__, "[true\0]", 7, 64, "invalid JSON");
    expect_decode_error(L, __LINE__, "-1e400", 6, 64, "overflow");
    expect_decode_error(L, __LINE__, "[\"\xf4\x90\x80\x80\"]", 8, 64, "UTF-8");
    expect_decode_error(L, __LINE__, "[\"\xf8\x88\x80\x80\x80\"]", 9, 64, "UTF-8");
    expect_decode_error(L, __LINE__, "{\"\\u0000\":1}", 12, 64, "NUL byte in object key");
    expect_lua(L, __LINE__,
               "local big = string.rep('1', 300) .. '.5'\n"
               "assert(math.abs(json.decode(big) / tonumber(big) - 1) < 1e-15)\n"
               "assert(json.decode(string.rep('1', 400)) == nil)\n"
               "local esc = '\"' .. string.rep('\\\\n\\\\u00e9x', 5000) .. '\"'\n"
               "assert(json.decode(esc) == string.rep('\\n\\195\\169x', 5000))\n"
               "local k = json.decode('{\"\\\\u00e9\\\\n\": {\"x\\\\ty\": 1}}')\n"
               "assert(k['\\195\\169\\n']['x\\ty'] == 1)\n"
               "local a = json.decode('[' .. string.rep('1,', 999) .. '1]')\n"
               "assert(#a == 1000 and json.is_array(a))\n"
               "local parts = {}\n"
               "for i = 1, 100 do parts[i] = '\"k' .. i .. '\":' .. i end\n"
               "local o = json.decode('{' .. table.concat(parts, ',') .. '}')\n"
               "for i = 1, 100 do assert(o['k' .. i] == i) end\n"
               "assert(json.decode(' -0 ') == 0 and 1 / json.decode('-0') < 0)\n"
               "assert(json.decode('-9007199254740992') == -2^53)\n"
               "assert(json.decode('123456789012345678') == 123456789012345678)\n"
               "return true");
    /* Jansson's 2048 levels count a scalar inside the innermost array as one more level */
    char err[ERR_MAX] = "";
    char *text = nested_text(2047);
    CHECK_INT(decode(L, text, strlen(text), 10000, err, __LINE__), 0);
    lua_pop(L, 1);
    free(text);
    text = nested_text(2048);
    expect_decode_error(L, __LINE__, text, strlen(text), 10000, "nesting deeper than 2048");
    free(text);
}

static void test_from_lua(lua_State *L) {
    expect_lua(L, __LINE__,
               "assert(json.encode({a = {1, 2, 3}}) == '{\"a\":[1,2,3]}')\n"
               "assert(json.encode('x') == '\"x\"' and json.encode(true) == 'true')\n"
               "local v = json.decode('{\"list\": [1, \"two\", {\"three\": 3}]}')\n"
               "assert(v.list[2] == 'two' and v.list[3].three == 3)\n"
               "local v2, err = json.decode('[1,')\n"
               "assert(v2 == nil and type(err) == 'string' and err:find('invalid JSON'), err)\n"
               "local v3, err3 = json.decode('\"\\255\"')\n"
               "assert(v3 == nil and err3:find('UTF%-8'), err3)\n"
               "local ok, e = pcall(json.encode, {cb = print})\n"
               "assert(not ok and e:find('^json.encode: cannot encode a function'), e)\n"
               "ok, e = pcall(json.encode, 0/0)\n"
               "assert(not ok and e:find('NaN'), e)\n"
               "ok, e = pcall(json.decode, {})\n"
               "assert(not ok, 'decode of a table must raise')\n"
               "assert(json.decode(json.encode('a\\0b')) == 'a\\0b')\n"
               "local s = string.rep('x', 100000)\n"
               "assert(json.decode(json.encode({s})) [1] == s)\n"
               "return true");
    /* the limit json.encode / json.decode use */
    ljson_set_max_depth(L, 2);
    expect_lua(L, __LINE__,
               "assert(json.encode({{1}}) == '[[1]]')\n"
               "assert(not pcall(json.encode, {{{1}}}))\n"
               "assert(json.decode('[[1]]') and not json.decode('[[[1]]]'))\n"
               "return true");
    ljson_set_max_depth(L, LJSON_DEFAULT_MAX_DEPTH);
}

/* Stack indices other than -1, and a state ljson_open never saw. */
static void test_api_edges(lua_State *L) {
    char err[ERR_MAX] = "";
    size_t len;
    lua_pushstring(L, "a");
    lua_pushnumber(L, 2);
    lua_pushboolean(L, 0);
    char *out = ljson_encode(L, -3, 64, &len, err, sizeof err);
    CHECK_STR(out, "\"a\"");
    free(out);
    out = ljson_encode(L, lua_gettop(L) - 1, 64, &len, err, sizeof err);
    CHECK_STR(out, "2");
    free(out);
    CHECK_INT(lua_gettop(L), 3);
    lua_pop(L, 3);

    /* a second ljson_open shares the markers of the first */
    CHECK_INT(lua_cpcall(L, open_json, NULL), 0);
    expect_lua(L, __LINE__,
               "local old = json.array({})\n"
               "local v = json.decode('[]')\n"
               "return json.encode({old, v}) == '[[],[]]' and json.is_array(old)");

    lua_State *bare = luaL_newstate();
    lua_pushnumber(bare, 1);
    out = ljson_encode(bare, -1, 64, &len, err, sizeof err);
    CHECK(out == NULL);
    CHECK_HAS(err, "ljson_open was not called");
    CHECK_INT(ljson_decode(bare, "1", 1, 64, err, sizeof err), -1);
    CHECK_INT(lua_gettop(bare), 1);
    ljson_set_max_depth(bare, 3); /* no effect, no crash */
    lua_close(bare);
}

/* -- out of memory -------------------------------------------------------------------------- */

struct heap {
    size_t used, limit;
};

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    struct heap *h = ud;
    if (nsize == 0) {
        free(ptr);
        h->used -= osize;
        return NULL;
    }
    if (nsize > osize && h->used + (nsize - osize) > h->limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        h->used = h->used - osize + nsize;
    return p;
}

/* A document with many strings, tables and numbers. */
static char *big_document(size_t *len) {
    size_t cap = 64 * 1024, n = 0;
    char *s = malloc(cap);
    n += (size_t)sprintf(s + n, "[\"");
    for (int i = 0; i < 200; i++) /* a long string with escapes: the decoder's malloc()ed scratch */
        n += (size_t)sprintf(s + n, "\\n\\u00e9");
    n += (size_t)sprintf(s + n,
                         "\",1.000000000000000000000000000000000000000000000000000000000000000"
                         "0000000000000000000000000000000000000000000000000000000001");
    for (int i = 0; i < 300; i++)
        n += (size_t)sprintf(s + n, ",{\"key%d\":\"value number %d\",\"n\":%d.5,\"a\":[1,[],{}]}",
                             i, i, i);
    n += (size_t)sprintf(s + n, "]");
    *len = n;
    return s;
}

static void test_lua_oom(void) {
    struct heap h = {0, (size_t)-1};
    lua_State *L = lua_newstate(limited_alloc, &h);
    CHECK(L != NULL);
    if (!L)
        return;
    CHECK_INT(lua_cpcall(L, open_json, NULL), 0);
    size_t len;
    char *doc = big_document(&len);
    char err[ERR_MAX];
    int failures = 0, bad = 0, done = 0;
    lua_gc(L, LUA_GCCOLLECT, 0);
    for (size_t room = 0; room < 1024 * 1024 && !done; room += 512) {
        h.limit = h.used + room;
        int top = lua_gettop(L);
        err[0] = '\0';
        int rc = ljson_decode(L, doc, len, 64, err, sizeof err);
        if (lua_gettop(L) != top + (rc == 0) || (rc != 0 && !strstr(err, "memory")))
            bad++;
        failures += rc != 0;
        done = rc == 0;
        h.limit = (size_t)-1;
        lua_settop(L, top);
        lua_gc(L, LUA_GCCOLLECT, 0);
    }
    check_report(bad == 0, __LINE__, "decode under a heap limit", "%d bad results, last '%s'", bad,
                 err);
    check_report(failures > 0 && done, __LINE__, "decode under a heap limit",
                 "%d failures, success %d", failures, done);

    /* json.encode from Lua: the text does not fit the heap; the buffer must not leak */
    CHECK_INT(luaL_dostring(L, "big = {string.rep('x', 200000)}\n"
                               "function try_encode() return json.encode(big) end"),
              0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    h.limit = h.used + 4096;
    lua_getglobal(L, "try_encode");
    int rc = lua_pcall(L, 0, 1, 0);
    h.limit = (size_t)-1;
    check_report(rc != 0 && lua_isstring(L, -1) && strstr(lua_tostring(L, -1), "memory"), __LINE__,
                 "json.encode under a heap limit", "rc %d, '%s'", rc,
                 lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
    lua_pop(L, 1);
    free(doc);
    lua_close(L);
}

int main(void) {
    lua_State *L = new_state();
    test_roundtrips(L);
    test_numbers(L);
    test_tables(L);
    test_null_and_marks(L);
    test_invalid_json(L);
    test_invalid_utf8_encode(L);
    test_binary_strings(L);
    test_depth(L);
    test_compat(L);
    test_from_lua(L);
    test_api_edges(L);
    CHECK_INT(lua_gettop(L), 0);
    lua_close(L);
    test_lua_oom();
    return check_summary("ljson");
}
