/* lpat: Lua 5.1 patterns compiled to items and matched with a step budget; see lpat.h.
 *
 * Compiling turns the pattern text into an array of items. Every single-byte class (a literal,
 * '.', %a and friends, a [set]) becomes one OP_CLASS item: a literal keeps its byte, the others
 * a 256-bit map of the bytes they match (shared maps for '.' and the %-classes, one per [set]
 * in the caller's storage). Captures, %b, %f, back references and a final '$' are items of
 * their own. Lua's NUL-terminated heritage is kept: a pattern ends at its first NUL byte.
 *
 * Matching walks the items from a subject position. Only the points where a match may have to
 * be undone recurse (a repeated class, a capture's start and end), so the depth is bounded by
 * the pattern's items and by LPAT_MAX_DEPTH. Each position tried and each byte scanned is a
 * step; past LPAT_CHECK_EVERY steps the budget callback decides whether to go on. */
#include "lpat.h"

#include <string.h>

enum op {
    OP_CLASS,    /* one byte of a class, repeated per item.rep */
    OP_OPEN,     /* '(' */
    OP_POSITION, /* '()' */
    OP_CLOSE,    /* ')' */
    OP_BALANCE,  /* %bxy */
    OP_FRONTIER, /* %f[set] */
    OP_BACKREF,  /* %1 .. %9 */
    OP_END,      /* '$' as the last byte: the subject's end */
};

enum rep { REP_ONE, REP_STAR, REP_PLUS, REP_MINUS, REP_OPT };

#define UNFINISHED (-1) /* the len of a capture whose ')' has not matched yet */

/* ---- byte classes ---- */

static uint8_t any_set[32];
static uint8_t class_sets[2][11][32]; /* [upper][letter]: %a .. %z and their complements */
static const char class_letters[] = "acdglpsuwxz";
static bool classes_ready;

static void set_add(uint8_t *set, int c) {
    set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static bool set_has(const uint8_t *set, unsigned char c) {
    return set[c >> 3] & (1u << (c & 7));
}

/* Whether byte c is in the class of lower-case letter l (ASCII only, as LuaJIT has them). */
static bool in_class(int c, char l) {
    bool upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z', digit = c >= '0' && c <= '9';
    switch (l) {
    case 'a':
        return upper || lower;
    case 'c':
        return c < 32 || c == 127;
    case 'd':
        return digit;
    case 'g':
        return c > 32 && c < 127; /* printable but space: LuaJIT has it, Lua 5.1 not */
    case 'l':
        return lower;
    case 'p':
        return c > 32 && c < 127 && !upper && !lower && !digit;
    case 's':
        return c == ' ' || (c >= 9 && c <= 13);
    case 'u':
        return upper;
    case 'w':
        return upper || lower || digit;
    case 'x':
        return digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    default:
        return c == 0; /* 'z' */
    }
}

static void make_classes(void) {
    memset(any_set, 0xff, sizeof any_set);
    for (int k = 0; class_letters[k]; k++)
        for (int c = 0; c < 256; c++)
            set_add(class_sets[!in_class(c, class_letters[k])][k], c);
    classes_ready = true;
}

/* The map of %e, or NULL when e is not a class letter (then %e is the literal e). */
static const uint8_t *class_set(unsigned char e) {
    bool upper = e >= 'A' && e <= 'Z';
    const char *k = memchr(class_letters, upper ? e + 32 : e, sizeof class_letters - 1);
    if (!k || !e)
        return NULL;
    if (!classes_ready)
        make_classes();
    return class_sets[upper][k - class_letters];
}

/* ---- compiling ---- */

struct compiler {
    struct lpat *p;
    const char *at, *end; /* the pattern left to read */
    int open[LPAT_MAX_CAPTURES];
    int n_open;                     /* captures whose ')' is still to come */
    bool closed[LPAT_MAX_CAPTURES]; /* closed (or a position): a back reference may use it */
    const char *err;
};

static struct lpat_item *emit(struct compiler *c, enum op op) {
    struct lpat *p = c->p;
    struct lpat_item *it = p->items ? &p->items[p->n_items] : NULL;
    p->n_items++;
    if (it)
        *it = (struct lpat_item){.op = (uint8_t)op};
    return it;
}

/* Finds the ']' closing the set whose contents start at s (after '['). Lua's rule: the first
 * byte (after an optional '^') is part of the set even if it is ']'; "%x" is one unit. */
static const char *set_end(struct compiler *c, const char *s) {
    if (s < c->end && *s == '^')
        s++;
    do {
        if (s >= c->end) {
            c->err = "malformed pattern (missing ']')";
            return NULL;
        }
        if (*s++ == '%' && s < c->end)
            s++;
    } while (s >= c->end || *s != ']');
    return s;
}

/* Fills the map of the set whose contents are s..close (exclusive). */
static void fill_set(uint8_t *set, const char *s, const char *close) {
    bool negate = *s == '^';
    memset(set, 0, 32);
    for (s += negate; s < close; s++) {
        const uint8_t *cls;
        if (*s == '%' && s + 1 < close && (cls = class_set((unsigned char)s[1]))) {
            for (int i = 0; i < 32; i++)
                set[i] |= cls[i];
            s++;
        } else if (*s == '%') {
            set_add(set, (unsigned char)*++s);
        } else if (s + 2 < close && s[1] == '-') {
            for (int b = (unsigned char)s[0]; b <= (unsigned char)s[2]; b++)
                set_add(set, b);
            s += 2;
        } else {
            set_add(set, (unsigned char)*s);
        }
    }
    if (negate)
        for (int i = 0; i < 32; i++)
            set[i] = (uint8_t)~set[i];
}

/* Reads a [set] whose '[' is at c->at. Returns its map (NULL when only counting). */
static const uint8_t *read_set(struct compiler *c) {
    const char *close = set_end(c, c->at + 1);
    if (!close)
        return NULL;
    struct lpat *p = c->p;
    uint8_t *set = p->sets ? p->sets[p->n_sets] : NULL;
    p->n_sets++;
    if (set)
        fill_set(set, c->at + 1, close);
    c->at = close + 1;
    return set;
}

/* Reads one single-byte class at c->at and its repetition. */
static void read_class(struct compiler *c) {
    const uint8_t *set = NULL;
    unsigned char byte = (unsigned char)*c->at;
    if (byte == '.') {
        if (!classes_ready)
            make_classes();
        set = any_set;
        c->at++;
    } else if (byte == '[') {
        set = read_set(c);
        if (c->err)
            return;
    } else if (byte == '%') {
        if (c->at + 1 >= c->end) {
            c->err = "malformed pattern (ends with '%')";
            return;
        }
        byte = (unsigned char)c->at[1];
        set = class_set(byte);
        c->at += 2;
    } else {
        c->at++;
    }
    struct lpat_item *it = emit(c, OP_CLASS);
    static const char reps[] = "*+-?";
    const char *r = c->at < c->end ? memchr(reps, *c->at, 4) : NULL;
    if (r)
        c->at++;
    if (it) {
        it->set = set;
        it->a = byte;
        it->rep = (uint8_t)(r ? REP_STAR + (r - reps) : REP_ONE);
    }
}

static void read_open(struct compiler *c) {
    struct lpat *p = c->p;
    bool position = c->at + 1 < c->end && c->at[1] == ')';
    if (p->n_captures == LPAT_MAX_CAPTURES) {
        c->err = "too many captures";
        return;
    }
    emit(c, position ? OP_POSITION : OP_OPEN);
    c->closed[p->n_captures] = position;
    if (!position)
        c->open[c->n_open++] = p->n_captures;
    p->n_captures++;
    c->at += position ? 2 : 1;
}

static void read_close(struct compiler *c) {
    if (c->n_open == 0) {
        c->err = "invalid pattern capture";
        return;
    }
    c->closed[c->open[--c->n_open]] = true;
    emit(c, OP_CLOSE);
    c->at++;
}

/* %b, %f or a back reference at c->at (a '%'); false when it is a class escape. */
static bool read_escape(struct compiler *c) {
    char e = c->at + 1 < c->end ? c->at[1] : 0;
    struct lpat_item *it;
    if (e == 'b') {
        if (c->at + 4 > c->end) {
            c->err = "malformed pattern (missing arguments to '%b')";
            return true;
        }
        if ((it = emit(c, OP_BALANCE))) {
            it->a = (uint8_t)c->at[2];
            it->b = (uint8_t)c->at[3];
        }
        c->at += 4;
    } else if (e == 'f') {
        c->at += 2;
        if (c->at >= c->end || *c->at != '[') {
            c->err = "missing '[' after '%f' in pattern";
            return true;
        }
        const uint8_t *set = read_set(c);
        if (!c->err && (it = emit(c, OP_FRONTIER)))
            it->set = set;
    } else if (e >= '0' && e <= '9') {
        int k = e - '1';
        if (k < 0 || k >= c->p->n_captures || !c->closed[k]) {
            c->err = "invalid capture index";
            return true;
        }
        if ((it = emit(c, OP_BACKREF)))
            it->a = (uint8_t)k;
        c->at += 2;
    } else {
        return false;
    }
    return true;
}

static void read_item(struct compiler *c) {
    switch (*c->at) {
    case '(':
        read_open(c);
        return;
    case ')':
        read_close(c);
        return;
    case '$':
        if (c->at + 1 == c->end) {
            emit(c, OP_END);
            c->at++;
            return;
        }
        break;
    case '%':
        if (read_escape(c))
            return;
        break;
    }
    read_class(c);
}

const char *lpat_compile(struct lpat *p, const char *pat, size_t len, bool anchor) {
    struct compiler c = {.p = p, .at = pat, .end = pat + strnlen(pat, len)};
    p->n_items = p->n_sets = p->n_captures = 0;
    p->anchored = anchor && c.at < c.end && *c.at == '^';
    c.at += p->anchored;
    while (c.at < c.end && !c.err)
        read_item(&c);
    if (!c.err && c.n_open)
        c.err = "unfinished capture";
    return c.err;
}

bool lpat_is_pattern(const char *pat, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (pat[i] && strchr("^$*+?.([%-", pat[i]))
            return true;
    return false;
}

/* ---- matching ---- */

void lpat_begin(struct lpat_match *m, const char *s, size_t len, bool (*stop)(void *ud), void *ud) {
    m->src = s;
    m->end = s + len;
    m->level = 0;
    m->status = LPAT_OK;
    m->depth = 0;
    m->steps = 0;
    m->next_check = LPAT_CHECK_EVERY;
    m->stop = stop;
    m->ud = ud;
}

bool lpat_spend(struct lpat_match *m, unsigned long n) {
    m->steps += n;
    if (m->steps < m->next_check || m->status != LPAT_OK)
        return m->status == LPAT_OK;
    m->next_check = m->steps + LPAT_CHECK_EVERY;
    if (m->stop && m->stop(m->ud))
        m->status = LPAT_STOPPED;
    return m->status == LPAT_OK;
}

static bool single(const struct lpat_item *it, unsigned char c) {
    return it->set ? set_has(it->set, c) : c == it->a;
}

/* How many bytes from s on match class item it (at most to the subject's end). */
static ptrdiff_t span(const struct lpat_match *m, const struct lpat_item *it, const char *s) {
    const char *q = s;
    while (q < m->end && single(it, (unsigned char)*q))
        q++;
    return q - s;
}

static const char *match_from(struct lpat_match *m, const struct lpat *p, const char *s, int i);

/* The items from i on, at s, as a nested backtracking point. */
static const char *try_rest(struct lpat_match *m, const struct lpat *p, const char *s, int i) {
    if (!lpat_spend(m, 1))
        return NULL;
    if (++m->depth > LPAT_MAX_DEPTH) {
        m->status = LPAT_TOO_COMPLEX;
        return NULL;
    }
    const char *e = match_from(m, p, s, i);
    m->depth--;
    return e;
}

/* Class item i repeated greedily (at least min times), then the rest. */
static const char *greedy(struct lpat_match *m, const struct lpat *p, const char *s, int i,
                          ptrdiff_t min) {
    ptrdiff_t n = span(m, &p->items[i], s);
    if (!lpat_spend(m, (unsigned long)n))
        return NULL;
    for (; n >= min; n--) {
        const char *e = try_rest(m, p, s + n, i + 1);
        if (e || m->status != LPAT_OK)
            return e;
    }
    return NULL;
}

/* Class item i repeated lazily (as few times as the rest allows), then the rest. */
static const char *lazy(struct lpat_match *m, const struct lpat *p, const char *s, int i) {
    for (;;) {
        const char *e = try_rest(m, p, s, i + 1);
        if (e || m->status != LPAT_OK)
            return e;
        if (s >= m->end || !single(&p->items[i], (unsigned char)*s))
            return NULL;
        s++;
    }
}

/* A capture starts at s (len UNFINISHED, or LPAT_POSITION), then the rest. */
static const char *open_capture(struct lpat_match *m, const struct lpat *p, const char *s, int i,
                                ptrdiff_t len) {
    m->cap[m->level] = (struct lpat_capture){s, len};
    m->level++;
    const char *e = try_rest(m, p, s, i + 1);
    if (!e)
        m->level--;
    return e;
}

/* The innermost unfinished capture ends at s, then the rest. */
static const char *close_capture(struct lpat_match *m, const struct lpat *p, const char *s, int i) {
    int k = m->level - 1;
    while (m->cap[k].len != UNFINISHED)
        k--;
    m->cap[k].len = s - m->cap[k].init;
    const char *e = try_rest(m, p, s, i + 1);
    if (!e)
        m->cap[k].len = UNFINISHED;
    return e;
}

/* %bxy at s: the end of the balanced run, or NULL. */
static const char *balance(struct lpat_match *m, const struct lpat_item *it, const char *s) {
    if (s >= m->end || (unsigned char)*s != it->a)
        return NULL;
    int depth = 1;
    for (const char *q = s + 1; q < m->end; q++) {
        if ((unsigned char)*q == it->b) {
            if (--depth == 0) {
                lpat_spend(m, (unsigned long)(q - s));
                return q + 1;
            }
        } else if ((unsigned char)*q == it->a) {
            depth++;
        }
    }
    lpat_spend(m, (unsigned long)(m->end - s));
    return NULL;
}

/* %f[set] at s: the byte before s is not in the set and the one at s is (NUL outside). */
static bool frontier(const struct lpat_match *m, const struct lpat_item *it, const char *s) {
    unsigned char before = s == m->src ? 0 : (unsigned char)s[-1];
    unsigned char here = s < m->end ? (unsigned char)*s : 0;
    return !set_has(it->set, before) && set_has(it->set, here);
}

/* %n at s: the end of a copy of capture n there, or NULL. */
static const char *backref(struct lpat_match *m, const struct lpat_item *it, const char *s) {
    const struct lpat_capture *cap = &m->cap[it->a];
    if (cap->len < 0 || m->end - s < cap->len)
        return NULL; /* a position capture never matches, as in Lua */
    lpat_spend(m, (unsigned long)cap->len);
    return memcmp(cap->init, s, (size_t)cap->len) == 0 ? s + cap->len : NULL;
}

/* One class item at s; returns the end of the whole match, or NULL. *s_io is advanced by a
 * plain single match (the caller goes on with the next item); done is set when the item
 * decided the outcome (a repetition tried the rest itself). */
static const char *match_class_item(struct lpat_match *m, const struct lpat *p, const char **s_io,
                                    int i, bool *done) {
    const struct lpat_item *it = &p->items[i];
    const char *s = *s_io;
    bool here = s < m->end && single(it, (unsigned char)*s);
    *done = true;
    switch (it->rep) {
    case REP_STAR:
        return greedy(m, p, s, i, 0);
    case REP_PLUS:
        return here ? greedy(m, p, s + 1, i, 0) : NULL;
    case REP_MINUS:
        return lazy(m, p, s, i);
    case REP_OPT:
        if (here) {
            const char *e = try_rest(m, p, s + 1, i + 1);
            if (e || m->status != LPAT_OK)
                return e;
        }
        *done = false;
        return NULL;
    default:
        if (!here)
            return NULL;
        *s_io = s + 1;
        *done = false;
        return NULL;
    }
}

/* The items from i on, at s: the end of the match, or NULL. */
static const char *match_from(struct lpat_match *m, const struct lpat *p, const char *s, int i) {
    for (; i < p->n_items; i++) {
        const struct lpat_item *it = &p->items[i];
        bool done;
        const char *e;
        switch (it->op) {
        case OP_CLASS:
            e = match_class_item(m, p, &s, i, &done);
            if (done)
                return e;
            break;
        case OP_OPEN:
            return open_capture(m, p, s, i, UNFINISHED);
        case OP_POSITION:
            return open_capture(m, p, s, i, LPAT_POSITION);
        case OP_CLOSE:
            return close_capture(m, p, s, i);
        case OP_END:
            return s == m->end ? s : NULL;
        case OP_BALANCE:
            if (!(s = balance(m, it, s)))
                return NULL;
            break;
        case OP_FRONTIER:
            if (!frontier(m, it, s))
                return NULL;
            break;
        default: /* OP_BACKREF */
            if (!(s = backref(m, it, s)))
                return NULL;
            break;
        }
    }
    return s;
}

const char *lpat_match_at(struct lpat_match *m, const struct lpat *p, const char *s) {
    m->level = 0;
    m->depth = 0;
    if (m->status != LPAT_OK)
        return NULL;
    return try_rest(m, p, s, 0);
}
