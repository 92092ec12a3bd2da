"""Room ids and namespaces at the edges (docs/http-contract.md: an id is 1 to 256 bytes after
percent-decoding, any bytes but '/', NUL and control characters; a namespace is
[a-z][a-z0-9_-]{0,31}). Each id is a room of its own (it answers, and never reaches room
"canary" or its Redis keys) or gets a JSON 400; ids shaped like Redis key syntax stay inside
their escaping."""

from battery import Battery, http_case, main, post_empty

OWN = "ok"  # a room of its own: it answers 200


def own(target):
    return http_case(post_empty(target), "ok")


def bad(target):
    return http_case(post_empty(target), "json_error")


class Ids(Battery):
    klass = "ids"
    cases = [
        ("id_256", own(b"/counter/" + b"i" * 256)),
        ("id_257", bad(b"/counter/" + b"i" * 257)),
        ("id_256_encoded", own(b"/counter/" + b"%C3%A9" * 128)),
        ("id_257_encoded", bad(b"/counter/" + b"%FF" * 257)),
        ("id_one_byte", own(b"/counter/c")),
        ("control_01", bad(b"/counter/canary%01")),
        ("control_1f", bad(b"/counter/canary%1F")),
        ("control_7f", bad(b"/counter/canary%7F")),
        ("tab", bad(b"/counter/canary%09")),
        ("space", own(b"/counter/canary%20")),
        ("leading_space", own(b"/counter/%20canary")),
        ("quote", own(b"/counter/canary%22")),
        ("backslash", own(b"/counter/canary%5C")),
        ("emoji", own(b"/counter/%F0%9F%90%A6")),
        ("invalid_utf8", own(b"/counter/canary%C3%28")),
        ("five_byte_utf8", own(b"/counter/canary%F8%88%80%80%80")),
        ("surrogate_utf8", own(b"/counter/canary%ED%A0%80")),
        ("lone_continuation", own(b"/counter/%80canary")),
        ("percent_literal", own(b"/counter/canary%2541")),
        ("escaped_like_store", own(b"/counter/canary%257D")),
        ("hash_tag_close", own(b"/counter/canary%7D:kv")),
        ("hash_tag_open", own(b"/counter/%7Bcanary%7D")),
        ("redis_key_shape", own(b"/counter/canary%7D:meta")),
        ("colon", own(b"/counter/counter:canary")),
        ("crlf_redis_inline", bad(b"/counter/canary%0D%0ADEL%20x")),
        ("star", own(b"/counter/*")),
        ("question_encoded", own(b"/counter/canary%3F")),
        ("hash_encoded", own(b"/counter/canary%23")),
        ("dots_three", own(b"/counter/...")),
        ("ns_32", http_case(post_empty(b"/" + b"n" * 32 + b"/canary"), "json_error")),
        ("ns_33", http_case(post_empty(b"/" + b"n" * 33 + b"/canary"), "json_error")),
        ("ns_uppercase", http_case(post_empty(b"/Counter/canary"), "json_error")),
        ("ns_digit_first", http_case(post_empty(b"/1counter/canary"), "json_error")),
        ("ns_encoded", http_case(post_empty(b"/%63ounter/battery-nsenc"), "any")),
        ("ns_only", http_case(post_empty(b"/counter"), "json_error")),
        ("ns_slash_only", http_case(post_empty(b"/counter/"), "json_error")),
    ]


if __name__ == "__main__":
    main()
