/* redis_child: runs and stops the embedded redis-server; see redis_child.h.
 * Start-up blocks (before the event loop runs): it is bounded by
 * START_WAIT_MS. */
#include "redis_child.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_WAIT_MS 10000
#define STOP_WAIT_MS 10000

struct redis_child {
    pid_t pid;
    char socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char dir[4096];
    enum redis_child_mode mode;
};

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A redis-server left over from a roomd killed without a stop still owns the folder until it
 * has exited (it got SIGTERM when its parent died): wait for it. */
static void wait_for_previous(const char *data_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/redis.pid", data_dir);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (!f)
        return;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    for (int waited = 0; pid > 0 && kill((pid_t)pid, 0) == 0 && waited < STOP_WAIT_MS; waited += 20)
        sleep_ms(20);
}

static void exec_child(const char *data_dir, const char *sock, enum redis_child_mode mode) {
    char log[4096], pidfile[4096];
    snprintf(log, sizeof log, "%s/redis.log", data_dir);
    snprintf(pidfile, sizeof pidfile, "%s/redis.pid", data_dir);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* roomd blocks SIGTERM for its signalfd */
    signal(SIGPIPE, SIG_DFL);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
    }
    execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm",
           "700", "--dir", data_dir, "--appendonly", mode == REDIS_CHILD_MEMORY ? "no" : "yes",
           "--appendfsync", mode == REDIS_CHILD_ALWAYS ? "always" : "everysec", "--save", "",
           "--daemonize", "no", "--logfile", log, "--pidfile", pidfile, (char *)NULL);
    fprintf(stderr, "roomd: cannot run redis-server: %s\n", strerror(errno));
    _exit(127);
}

static int answers_ping(const char *sock) {
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectUnixWithTimeout(sock, tv);
    int ok = 0;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

/* Waits until the child answers, or exits, or the time is up. */
static int wait_ready(struct redis_child *c, const char *data_dir, char *err, size_t errlen) {
    for (int waited = 0; waited < START_WAIT_MS; waited += 20) {
        int status;
        if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
            c->pid = 0;
            snprintf(err, errlen, "redis-server exited at start (see %s/redis.log)", data_dir);
            return -1;
        }
        if (answers_ping(c->socket))
            return 0;
        sleep_ms(20);
    }
    snprintf(err, errlen, "redis-server did not answer within %d ms (see %s/redis.log)",
             START_WAIT_MS, data_dir);
    return -1;
}

static int spawn(struct redis_child *c) {
    c->pid = fork();
    if (c->pid < 0)
        return -1;
    if (c->pid == 0)
        exec_child(c->dir, c->socket, c->mode);
    return 0;
}

int redis_child_check(struct redis_child *c) {
    int status;
    if (!c || c->pid <= 0 || waitpid(c->pid, &status, WNOHANG) != c->pid)
        return 0;
    return spawn(c) == 0 ? 1 : -1;
}

struct redis_child *redis_child_start(const char *data_dir, enum redis_child_mode mode, char *err,
                                      size_t errlen) {
    struct redis_child *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->mode = mode;
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data folder %s: %s", data_dir, strerror(errno));
        goto fail;
    }
    if (snprintf(c->socket, sizeof c->socket, "%s/redis.sock", data_dir) >= (int)sizeof c->socket) {
        snprintf(err, errlen, "data folder path too long for a unix socket: %s", data_dir);
        goto fail;
    }
    snprintf(c->dir, sizeof c->dir, "%s", data_dir);
    wait_for_previous(data_dir);
    if (spawn(c) != 0) {
        snprintf(err, errlen, "cannot fork redis-server: %s", strerror(errno));
        goto fail;
    }
    if (wait_ready(c, data_dir, err, errlen) == 0)
        return c;
fail:
    redis_child_stop(c);
    return NULL;
}

const char *redis_child_socket(const struct redis_child *c) {
    return c->socket;
}

void redis_child_stop(struct redis_child *c) {
    if (!c)
        return;
    if (c->pid > 0) {
        kill(c->pid, SIGTERM);
        int waited = 0, status;
        while (waitpid(c->pid, &status, WNOHANG) == 0 && waited < STOP_WAIT_MS) {
            sleep_ms(10);
            waited += 10;
        }
        if (waited >= STOP_WAIT_MS) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
        }
    }
    free(c);
}
