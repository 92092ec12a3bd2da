---@meta roomd
-- roomd's room-script API as type annotations for lua-language-server (LuaLS),
-- for editor completion, hover and checks. It is never run: roomd itself
-- provides all of this (docs/lua-api.md is the contract). How to use it:
-- docs/lua-api.md, "Editor help"; docs/types/.luarc.json is the settings file
-- to copy beside your room scripts.
--
-- A script gets its handlers' parameter types by declaring its module table
-- as roomd.Handlers:
--
--     ---@type roomd.Handlers
--     local Counter = {}
--
--     function Counter.request(room, req) -- room: roomd.Room, req: roomd.Request
--         ...
--     end
--
--     return Counter
--
-- or, in any LuaLS version, by annotating each handler
-- (---@param room roomd.Room).

------------------------------------------------------------------------------
-- JSON values
------------------------------------------------------------------------------

---The value of JSON `null` (a light userdata; it is truthy). Compare with
---`v == json.null`.
---@class roomd.Null

---What JSON decodes to: a table (marked as a JSON object or array), a string,
---a number, a boolean or `json.null`.
---@alias roomd.JsonValue table|string|number|boolean|roomd.Null

------------------------------------------------------------------------------
-- Handlers
------------------------------------------------------------------------------

---The table a room script returns. Every handler is optional; each call is one
---turn of one room.
---@class roomd.Handlers
---The room starts (its storage is loaded already). Also runs again after the
---room left memory, hibernated, was reset, or its script was reloaded.
---@field init? fun(room: roomd.Room)
---An HTTP request to `/<ns>/<id>[/<rest>]`. Returning `nil` answers 404.
---@field request? fun(room: roomd.Room, req: roomd.Request): roomd.Response?
---A WebSocket opened on the room URL (`req` is its upgrade request).
---Returning `false, "reason"` refuses it (closed with 1008 and the reason);
---anything else accepts it.
---@field join? fun(room: roomd.Room, conn: roomd.Conn, req: roomd.Request): boolean?, string?
---A JSON text frame arrived; `msg` is its decoded value.
---@field message? fun(room: roomd.Room, conn: roomd.Conn, msg: roomd.JsonValue)
---A WebSocket closed. `code` is the close code, `nil` if there was none;
---`reason` is the close reason, `""` if none.
---@field leave? fun(room: roomd.Room, conn: roomd.Conn, code: integer?, reason: string)
---One of the room's alarms is due (it is removed as the turn starts; a
---repeating one is set again after a run that did not raise).
---@field alarm? fun(room: roomd.Room, info: roomd.AlarmInfo)
---Another room's `rooms.call` or `rooms.send`; what it returns is the call's answer.
---@field call? fun(room: roomd.Room, value: roomd.JsonValue, from: roomd.Caller): roomd.JsonValue?

---@class roomd.Caller
---The calling room's namespace.
---@field ns string
---The calling room's id.
---@field id string

---@class roomd.AlarmInfo
---The alarm's name (`""` for the one `set_alarm(time_ms)` sets).
---@field name string
---Its payload, absent when it has none.
---@field payload? any
---How many earlier runs of this alarm raised an error (0 on the first run).
---@field retry_count integer

------------------------------------------------------------------------------
-- req and responses
------------------------------------------------------------------------------

---An HTTP request, or a WebSocket's upgrade request in `join`.
---@class roomd.Request
---`"GET"`, `"POST"`, ...
---@field method string
---The decoded path, e.g. `/vote/berlin/results`.
---@field path string
---What follows the room id, without the leading `/` (`"results"`); `""` if none.
---@field rest string
---Decoded query parameters: `?a=1&b` gives `{a = "1", b = ""}`.
---@field query table<string, string>
---Request headers, names in lower case.
---@field headers table<string, string>
---The request body (`""` if none).
---@field body string
---The body decoded as JSON; `nil` if it is empty or not JSON.
---@field json roomd.JsonValue?
---Why the body is not JSON; `nil` when it is, or is empty.
---@field json_error string?
---The claims of the request's token where the namespace checks tokens and one came
---(docs/operations.md); else `nil`.
---@field auth table<string, any>?

---What a `request` handler returns. `json` (encoded as JSON) wins over
---`body`; with neither, the body is empty.
---@class roomd.Response
---100 to 599; default 200.
---@field status? integer
---A value to send as JSON (`application/json`).
---@field json? any
---A plain-text body (`text/plain; charset=utf-8` unless `headers` says otherwise).
---@field body? string
---Response headers: strings without CR or LF; at most 32.
---@field headers? table<string, string>

------------------------------------------------------------------------------
-- room
------------------------------------------------------------------------------

---The room's own table: keep per-room state in its fields (`room.votes = ...`).
---`id`, `namespace`, `node`, `epoch`, `settings` and `storage` are provided by roomd.
---@class roomd.Room
---The room id (decoded; any bytes but `/` and control characters), bytes that are not
---valid UTF-8 shown as `%XX`.
---@field id string
---The namespace name (the first segment of the room URL).
---@field namespace string
---This server's node name (`--node`).
---@field node string
---This activation's number: it rises each time the room is loaded anew (in cluster mode, with
---every new owner node; docs/cluster.md).
---@field epoch number
---The namespace's `settings` table from the config (read it, do not change it).
---@field settings table<string, any>
---The room's durable key-value storage.
---@field storage roomd.Storage
---Per-room state the script keeps on the room.
---@field [string] any
local Room = {}

---Sends `msg` (encoded as JSON once) to every accepted connection of the room.
---@param msg any
---@param except? roomd.Conn|string a connection to skip, or a tag: only connections with that tag get it
---@return integer count the number of connections it was queued to
function Room:broadcast(msg, except) end

---The room's open connections (with `tag`, only those tagged so).
---@param tag? string
---@return roomd.Conn[]
function Room:connections(tag) end

------------------------------------------------------------------------------
-- conn
------------------------------------------------------------------------------

---A WebSocket connection. Every handler gets the same object for the same
---connection, so it can key a table.
---@class roomd.Conn
---A number unique in this server process.
---@field id integer
---The connection's tags (a copy: change them with `conn:tag`).
---@field tags string[]
---The value saved with `set_attachment` (decoded from JSON), or `nil`.
---@field attachment any
---The claims of the token the connection opened with, or `nil`; kept by roomd, so it
---outlives hibernation and reloads.
---@field auth table<string, any>?
local Conn = {}

---Queues `msg` (encoded as JSON) to this connection.
---@param msg any
---@return true? ok `true`, or `nil` when the connection is closed
---@return "closed"? err
function Conn:send(msg) end

---Closes the connection after what is queued is sent.
---@param code? integer 1000 (default), 1001-1003, 1007-1014 or 3000-4999
---@param reason? string at most 123 bytes
function Conn:close(code, reason) end

---Adds a tag (1 to 64 bytes; at most 8 tags a connection).
---@param name string
function Conn:tag(name) end

---Keeps a small JSON-encodable value with the connection, outside Lua (at most
---`limits.attachment_bytes` encoded, default 2048); `nil` removes it.
---@param value any
function Conn:set_attachment(value) end

------------------------------------------------------------------------------
-- room.storage
------------------------------------------------------------------------------

---The room's durable key-value storage, loaded whole when the room starts.
---Keys are strings of 1 to 2,048 bytes; values are tables, strings, numbers,
---booleans and `json.null` (at most 131,072 bytes encoded); at most 128 keys
---a call. A turn's writes are stored together before anything it sends leaves.
---@class roomd.Storage
local Storage = {}

---The stored value (a copy), or `nil`. With a list of keys: a table of those
---that exist.
---@param key string
---@return any
---@overload fun(self: roomd.Storage, keys: string[]): table<string, any>
function Storage:get(key) end

---Stores `value` (`nil` is an error: use `delete`). With one table: stores
---each of its key-value pairs.
---@param key string
---@param value any
---@overload fun(self: roomd.Storage, entries: table<string, any>)
function Storage:put(key, value) end

---Removes `key`; returns whether it existed. With a list of keys: returns how
---many existed.
---@param key string
---@return boolean existed
---@overload fun(self: roomd.Storage, keys: string[]): integer
function Storage:delete(key) end

---Removes every key, and every alarm.
function Storage:delete_all() end

---@class roomd.ListOptions
---Only keys that start with it.
---@field prefix? string
---The first key (inclusive).
---@field start? string
---Keys below it (exclusive).
---@field ["end"]? string
---At most this many entries.
---@field limit? integer
---Descending key order.
---@field reverse? boolean

---@class roomd.Entry
---@field key string
---@field value any

---The entries in byte order of their keys.
---@param opts? roomd.ListOptions
---@return roomd.Entry[]
function Storage:list(opts) end

---@class roomd.AlarmOptions
---Repeat every this many milliseconds (at least 1) after each run that did not raise.
---@field every_ms? number

---@class roomd.Alarm
---@field name string
---@field time_ms number
---@field payload? any
---@field every_ms? number

---Sets the alarm `name` (0 to 256 bytes), replacing the alarm of that name;
---at most 1,000 alarms a room. When it comes, the `alarm` handler runs, even
---if the room left memory or roomd restarted. `set_alarm(time_ms)` sets the
---alarm named `""`, the room's one alarm of scripts from before named alarms.
---@param name string|number the name, or the time of the alarm `""`
---@param time_ms? number milliseconds since the epoch, e.g. `now_ms() + 60000`
---@param payload? any a storable value of at most 4,096 bytes encoded, given to the handler
---@param opts? roomd.AlarmOptions
function Storage:set_alarm(name, time_ms, payload, opts) end

---The alarm's time (milliseconds since the epoch) and payload, or `nil`
---(no name: the alarm `""`).
---@param name? string
---@return number? time_ms
---@return any payload
function Storage:get_alarm(name) end

---Removes the alarm (no name: the alarm `""`); whether it existed.
---@param name? string
---@return boolean
function Storage:delete_alarm(name) end

---Every alarm of the room, in time order (then name order).
---@return roomd.Alarm[]
function Storage:list_alarms() end

------------------------------------------------------------------------------
-- Globals roomd adds to the sandbox
------------------------------------------------------------------------------

---The wall-clock time in milliseconds since the epoch.
---@return number
function now_ms() end

---Calls to other rooms (docs/lua-api.md, "Calling other rooms").
---@class roomd.rooms
rooms = {}

---Runs room `ns/id`'s `call(room, value, from)` handler as one of its turns and returns
---what it returns. The caller's turn waits; an error in the target is raised here.
---@param ns string
---@param id string
---@param value any a value JSON can carry
---@param opts? {timeout_ms: integer} default 10000, at most 60000
---@return any
function rooms.call(ns, id, value, opts) end

---Like `rooms.call` without waiting: the target's `call` handler gets `value` once this
---turn's writes are stored.
---@param ns string
---@param id string
---@param value any
function rooms.send(ns, id, value) end

---Lines in roomd's log with the room and the script's file:line (docs/lua-api.md, "Logging").
---@class roomd.log
log = {}

---@param ... any joined with spaces
function log.info(...) end

---@param ... any joined with spaces
function log.warn(...) end

---@param ... any joined with spaces
function log.error(...) end

---Outbound HTTP (docs/lua-api.md, "Outbound HTTP"): only to the namespace's `outbound` URLs.
---@class roomd.http
http = {}

---@class roomd.FetchOptions
---@field method? "GET"|"POST"|"PUT"|"PATCH"|"DELETE"|"HEAD"
---@field headers? table<string, string>
---@field body? string
---@field json? any sent as JSON
---@field timeout_ms? integer default 10000, at most 60000

---@class roomd.FetchResponse
---@field status integer
---@field headers table<string, string> lowercase names
---@field body string
---@field json? roomd.JsonValue when the response is JSON

---Makes an HTTP request; the turn waits for it.
---@param url string
---@param opts? roomd.FetchOptions
---@return roomd.FetchResponse? response
---@return string? error
function http.fetch(url, opts) end

---JSON as roomd converts it (docs/lua-api.md, "JSON").
---@class roomd.json
json = {}

---The value of JSON `null`.
---@type roomd.Null
json.null = nil

---A JSON text; raises an error saying what cannot be encoded (a function, a
---cycle, NaN, nesting past `limits.json_depth`, a string that is not UTF-8).
---@param v any
---@return string
function json.encode(v) end

---The decoded value, or `nil` and why the text is not JSON.
---@param s string
---@return roomd.JsonValue? value
---@return string? err
function json.decode(s) end

---Marks `t` so it encodes as a JSON array (`[]` when empty) and returns it;
---with no argument, a new empty one.
---@generic T: table
---@param t? T
---@return T
function json.array(t) end

---Marks `t` so it encodes as a JSON object (`{}` when empty) and returns it;
---with no argument, a new empty one.
---@generic T: table
---@param t? T
---@return T
function json.object(t) end

---Whether `v` is a table marked as a JSON array (decoded arrays are).
---@param v any
---@return boolean
function json.is_array(v) end

---Whether `v` is a table marked as a JSON object (decoded objects are).
---@param v any
---@return boolean
function json.is_object(v) end

---The sandbox's `os`: these three only (`.luarc.json` turns LuaLS's own `os`
---off so that nothing else is offered).
os = {}

---The current time as a number (seconds since the epoch), or the time `t`
---describes (fields year, month, day, hour, min, sec, isdst).
---@param t? table
---@return integer
function os.time(t) end

---CPU time used by the server process, in seconds.
---@return number
function os.clock() end

---The time formatted as `format` says (strftime), or a table with `"*t"` or
---`"!*t"`.
---@param format? string
---@param time? integer
---@return string|table
function os.date(format, time) end
