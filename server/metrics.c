/* metrics: see metrics.h.
 *
 * A scrape writes into a memory stream: one family after the other, each
 * with its HELP and TYPE lines, every namespace a sample (zeros included, so
 * a rate starts from the first scrape). Histograms are written cumulative
 * from the per-bucket counts the rooms keep. */
#include "metrics.h"

#include "counters.h"
#include "door.h"
#include "lease.h"
#include "ns.h"
#include "store.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static uint64_t http_answers[5]; /* by status class: 1xx to 5xx */

void metrics_count_http(int status) {
    if (status >= 100 && status <= 599)
        http_answers[status / 100 - 1]++;
}

/* ---- writing ---- */

static void family(FILE *f, const char *name, const char *type, const char *help) {
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the format asks: backslash, double quote and newline. */
static void label_value(FILE *f, const char *v) {
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

/* The start of a sample of namespace ns: `name{ns="..."[,more]} `; more is label text roomd
 * makes itself (nothing to escape), or NULL. */
static void ns_sample(FILE *f, const char *name, const struct ns *ns, const char *more) {
    fprintf(f, "%s{ns=\"", name);
    label_value(f, ns_name(ns));
    fprintf(f, "\"%s%s} ", more ? "," : "", more ? more : "");
}

/* ---- the per-namespace counters ---- */

/* A plain counter of struct ns_counters, one sample per namespace. */
struct ns_figure {
    const char *name, *help;
    size_t offset; /* of its uint64_t in struct ns_counters */
};

#define AT(field) offsetof(struct ns_counters, field)
static const struct ns_figure ns_figures[] = {
    {"roomd_rooms_activated_total",
     "Rooms loaded from storage into a Lua instance (a first load, or a wake-up).", AT(activated)},
    {"roomd_rooms_evicted_total", "Idle rooms dropped from memory.", AT(evicted)},
    {"roomd_rooms_hibernated_total", "Rooms that dropped their Lua instance, sockets kept open.",
     AT(hibernated)},
    {"roomd_connections_opened_total", "WebSockets opened.", AT(opened)},
    {"roomd_ws_messages_in_total", "Whole WebSocket messages received.", AT(messages_in)},
    {"roomd_ws_messages_out_total", "WebSocket messages written to sockets.", AT(messages_out)},
    {"roomd_ws_bytes_in_total", "Payload bytes of WebSocket data frames received.", AT(bytes_in)},
    {"roomd_ws_bytes_out_total", "Bytes of WebSocket frames written to sockets.", AT(bytes_out)},
    {"roomd_turns_total", "Turns run (handler calls, init included).", AT(turns)},
    {"roomd_queue_full_drops_total",
     "Events refused because their room's queue was full (limits.room_queue).", AT(queue_full)},
    {"roomd_rate_limit_closes_total",
     "WebSockets closed 1008 for sending past limits.messages_per_second.", AT(rate_limited)},
    {"roomd_slow_consumer_closes_total",
     "WebSockets closed 1013 because their send queue was full.", AT(slow_consumers)},
    {"roomd_storage_commits_total", "Checkpoints of turns' writes sent to Redis.", AT(commits)},
    {"roomd_storage_commit_failures_total",
     "Checkpoints that failed: their turn's output was dropped and the room reset.",
     AT(commit_failures)},
    {"roomd_alarms_fired_total", "Alarm handlers run.", AT(alarms_fired)},
    {"roomd_alarms_retried_total", "Failed alarm runs scheduled to run again.", AT(alarms_retried)},
};
#undef AT

static uint64_t field(struct ns *ns, size_t offset) {
    uint64_t v;
    memcpy(&v, (const char *)counters_of(ns) + offset, sizeof v);
    return v;
}

static void ns_counter(FILE *f, const struct ns_figure *fig) {
    family(f, fig->name, "counter", fig->help);
    for (size_t i = 0; i < ns_count(); i++) {
        ns_sample(f, fig->name, ns_at(i), NULL);
        fprintf(f, "%" PRIu64 "\n", field(ns_at(i), fig->offset));
    }
}

static void connections(FILE *f) {
    family(f, "roomd_connections", "gauge", "WebSockets open.");
    for (size_t i = 0; i < ns_count(); i++) {
        ns_sample(f, "roomd_connections", ns_at(i), NULL);
        fprintf(f, "%" PRId64 "\n", counters_of(ns_at(i))->connections);
    }
}

static void closed(FILE *f) {
    static const char name[] = "roomd_connections_closed_total";
    char more[32];
    family(f, name, "counter",
           "WebSockets closed, by close code class: the code itself where a close frame may carry "
           "it, 3xxx, 4xxx, or none.");
    for (size_t i = 0; i < ns_count(); i++) {
        for (int c = 0; c < COUNTERS_CLOSE_CLASSES; c++) {
            snprintf(more, sizeof more, "code_class=\"%s\"", counters_close_class_name(c));
            ns_sample(f, name, ns_at(i), more);
            fprintf(f, "%" PRIu64 "\n", counters_of(ns_at(i))->closed[c]);
        }
    }
}

static void turn_errors(FILE *f) {
    static const char name[] = "roomd_turn_errors_total";
    static const char *const kinds[TURN_ERROR_KINDS] = {
        [TURN_ERROR] = "kind=\"error\"",
        [TURN_CPU_LIMIT] = "kind=\"cpu_limit\"",
        [TURN_MEMORY_LIMIT] = "kind=\"memory_limit\"",
    };
    family(f, name, "counter",
           "Failed turns, by kind: an error in the handler, the CPU limit, the memory limit.");
    for (size_t i = 0; i < ns_count(); i++) {
        for (int k = 0; k < TURN_ERROR_KINDS; k++) {
            ns_sample(f, name, ns_at(i), kinds[k]);
            fprintf(f, "%" PRIu64 "\n", counters_of(ns_at(i))->turn_errors[k]);
        }
    }
}

static void reloads(FILE *f) {
    static const char name[] = "roomd_reloads_total";
    family(f, name, "counter", "Reloads of a namespace's script, by result (ok, error).");
    for (size_t i = 0; i < ns_count(); i++) {
        const struct ns_counters *m = counters_of(ns_at(i));
        ns_sample(f, name, ns_at(i), "result=\"ok\"");
        fprintf(f, "%" PRIu64 "\n", m->reloads_ok);
        ns_sample(f, name, ns_at(i), "result=\"error\"");
        fprintf(f, "%" PRIu64 "\n", m->reloads_failed);
    }
}

static void lua_heap(FILE *f) {
    family(f, "roomd_lua_heap_bytes", "gauge", "Bytes of Lua heap in use in the namespace's VM.");
    for (size_t i = 0; i < ns_count(); i++) {
        ns_sample(f, "roomd_lua_heap_bytes", ns_at(i), NULL);
        fprintf(f, "%zu\n", ns_heap_bytes(ns_at(i)));
    }
}

/* A histogram of durations, per namespace (of turns, or of commits): cumulative buckets in
 * seconds, sum and count. */
static void histogram(FILE *f, const char *name, const char *help, bool commits) {
    char sample[96], more[48];
    family(f, name, "histogram", help);
    for (size_t i = 0; i < ns_count(); i++) {
        const struct ns_counters *m = counters_of(ns_at(i));
        const struct counters_histogram *h = commits ? &m->commit_time : &m->turn_time;
        uint64_t total = 0;
        snprintf(sample, sizeof sample, "%s_bucket", name);
        for (int b = 0; b < COUNTERS_BUCKETS; b++) {
            total += h->bucket[b];
            if (b < COUNTERS_BUCKETS - 1)
                snprintf(more, sizeof more, "le=\"%g\"", (double)counters_bucket_ns[b] / 1e9);
            else
                snprintf(more, sizeof more, "le=\"+Inf\"");
            ns_sample(f, sample, ns_at(i), more);
            fprintf(f, "%" PRIu64 "\n", total);
        }
        snprintf(sample, sizeof sample, "%s_sum", name);
        ns_sample(f, sample, ns_at(i), NULL);
        fprintf(f, "%.9f\n", (double)h->sum_ns / 1e9);
        snprintf(sample, sizeof sample, "%s_count", name);
        ns_sample(f, sample, ns_at(i), NULL);
        fprintf(f, "%" PRIu64 "\n", total);
    }
}

/* ---- rooms in memory ---- */

/* Rooms by namespace (its index in ns.h's list) and state. */
struct room_tally {
    size_t n;
    const char **names; /* the namespaces' names */
    size_t *memory, *hibernated;
};

static void tally_room(const struct door_room_info *info, void *arg) {
    struct room_tally *t = arg;
    for (size_t i = 0; i < t->n; i++) {
        if (t->names[i] != info->ns && strcmp(t->names[i], info->ns) != 0)
            continue;
        if (strcmp(info->state, "hibernated") == 0)
            t->hibernated[i]++;
        else
            t->memory[i]++;
        return;
    }
}

static void tally_free(struct room_tally *t) {
    free(t->names);
    free(t->memory);
    free(t->hibernated);
}

static int rooms(FILE *f) {
    size_t n = ns_count();
    struct room_tally t = {n, calloc(n + 1, sizeof *t.names), calloc(n + 1, sizeof *t.memory),
                           calloc(n + 1, sizeof *t.hibernated)};
    if (!t.names || !t.memory || !t.hibernated) {
        tally_free(&t);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        t.names[i] = ns_name(ns_at(i));
    door_each_room(NULL, tally_room, &t);
    family(f, "roomd_rooms", "gauge",
           "Rooms in memory, by state: memory (Lua instance live) or hibernated (sockets only).");
    for (size_t i = 0; i < n; i++) {
        ns_sample(f, "roomd_rooms", ns_at(i), "state=\"memory\"");
        fprintf(f, "%zu\n", t.memory[i]);
        ns_sample(f, "roomd_rooms", ns_at(i), "state=\"hibernated\"");
        fprintf(f, "%zu\n", t.hibernated[i]);
    }
    tally_free(&t);
    return 0;
}

/* ---- the server's own, and Redis ---- */

static void http(FILE *f) {
    family(f, "roomd_http_requests_total", "counter",
           "HTTP requests answered on the room listener, by status class.");
    for (int c = 0; c < 5; c++)
        fprintf(f, "roomd_http_requests_total{code_class=\"%dxx\"} %" PRIu64 "\n", c + 1,
                http_answers[c]);
}

static void redis(FILE *f) {
    family(f, "roomd_redis_connected", "gauge", "1 while roomd is connected to Redis, else 0.");
    fprintf(f, "roomd_redis_connected %d\n", store_connected() ? 1 : 0);
    family(f, "roomd_redis_reconnects_total", "counter",
           "Connections to Redis made again after a lost one.");
    fprintf(f, "roomd_redis_reconnects_total %" PRIu64 "\n", store_reconnects());
}

/* Cluster mode only (rooms/lease.h): the node's leases. */
static void leases(FILE *f) {
    if (!lease_enabled())
        return;
    const struct lease_counters *c = lease_counters();
    static const struct {
        const char *name, *help;
        size_t offset;
    } counts[] = {
        {"roomd_lease_acquired_total", "Room leases taken.",
         offsetof(struct lease_counters, acquired)},
        {"roomd_lease_renewals_total", "Lease renewal round trips to Redis (one per 500 rooms).",
         offsetof(struct lease_counters, renewals)},
        {"roomd_lease_lost_total", "Leases found taken or expired: the room was dropped.",
         offsetof(struct lease_counters, lost)},
        {"roomd_lease_fenced_total", "Checkpoints refused because another node holds the lease.",
         offsetof(struct lease_counters, fenced)},
        {"roomd_lease_handovers_total", "Rooms handed to another node on its request.",
         offsetof(struct lease_counters, handovers)},
        {"roomd_lease_asked_total", "Handovers this node asked of other nodes.",
         offsetof(struct lease_counters, asked)},
        {"roomd_lease_wait_timeouts_total",
         "Rooms whose lease did not come within the wait: their clients got 503.",
         offsetof(struct lease_counters, wait_timeouts)},
    };
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        family(f, counts[i].name, "counter", counts[i].help);
        fprintf(f, "%s %" PRIu64 "\n", counts[i].name,
                *(const uint64_t *)((const char *)c + counts[i].offset));
    }
    family(f, "roomd_leases_held", "gauge", "Room leases this node holds now.");
    fprintf(f, "roomd_leases_held %" PRIu64 "\n", c->held);
}

/* ---- process_* ---- */

/* Entries of /proc/self/fd, less the one reading it; -1 when it cannot be read. */
static long open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    long n = -1; /* the directory's own descriptor */
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* The process's start, in seconds since the epoch: its start in clock ticks after boot
 * (/proc/self/stat, field 22) plus the boot time (/proc/stat's btime). 0 if unknown. */
static double start_time(void) {
    char buf[1024], *p;
    unsigned long long ticks = 0, btime = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    /* the command name (field 2) may hold spaces and parentheses: count from its last ')' */
    if (!(p = strrchr(buf, ')')) ||
        sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
               "%*d %llu",
               &ticks) != 1)
        return 0;
    if (!(f = fopen("/proc/stat", "r")))
        return 0;
    while (fgets(buf, sizeof buf, f) && sscanf(buf, "btime %llu", &btime) != 1)
        ;
    fclose(f);
    return btime ? (double)btime + (double)ticks / (double)sysconf(_SC_CLK_TCK) : 0;
}

static void process(FILE *f) {
    struct rusage ru;
    struct rlimit rl;
    unsigned long long pages_virtual = 0, pages_resident = 0;
    long page = sysconf(_SC_PAGESIZE);
    FILE *statm = fopen("/proc/self/statm", "r");
    if (statm && fscanf(statm, "%llu %llu", &pages_virtual, &pages_resident) != 2)
        pages_virtual = pages_resident = 0;
    if (statm)
        fclose(statm);
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    family(f, "process_cpu_seconds_total", "counter", "User and system CPU time, in seconds.");
    fprintf(f, "process_cpu_seconds_total %.6f\n", cpu);
    family(f, "process_resident_memory_bytes", "gauge", "Resident memory, in bytes.");
    fprintf(f, "process_resident_memory_bytes %llu\n", pages_resident * (unsigned long long)page);
    family(f, "process_virtual_memory_bytes", "gauge", "Virtual memory, in bytes.");
    fprintf(f, "process_virtual_memory_bytes %llu\n", pages_virtual * (unsigned long long)page);
    family(f, "process_open_fds", "gauge", "Open file descriptors.");
    fprintf(f, "process_open_fds %ld\n", open_fds());
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        family(f, "process_max_fds", "gauge", "The limit of open file descriptors.");
        fprintf(f, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
    family(f, "process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch, in seconds.");
    fprintf(f, "process_start_time_seconds %.2f\n", start_time());
}

/* ---- the scrape ---- */

char *metrics_render(size_t *len) {
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    if (!f)
        return NULL;
    int rc = rooms(f);
    connections(f);
    closed(f);
    for (size_t i = 0; i < sizeof ns_figures / sizeof *ns_figures; i++)
        ns_counter(f, &ns_figures[i]);
    turn_errors(f);
    histogram(f, "roomd_turn_duration_seconds", "Time a turn ran, in seconds.", false);
    histogram(f, "roomd_storage_commit_duration_seconds",
              "Time from sending a checkpoint to Redis to its answer, in seconds.", true);
    reloads(f);
    lua_heap(f);
    http(f);
    redis(f);
    leases(f);
    process(f);
    if (fclose(f) != 0 || rc != 0) {
        free(text);
        return NULL;
    }
    return text;
}
