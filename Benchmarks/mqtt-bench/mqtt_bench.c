/*
 * mqtt_bench.c - MQTT 3.1.1 broker load generator (issue 3).
 *
 * One thread, epoll, non-blocking TCP sockets, no dependencies beyond libc.
 * It speaks just enough MQTT 3.1.1 to load a broker and to check what comes
 * back, with its own stream parser:
 *
 *   CONNECT / CONNACK ........... MQTT 3.1.1 sections 3.1, 3.2
 *   PUBLISH QoS 0 and 1 ......... section 3.3 (QoS 2 is never requested)
 *   PUBACK ...................... section 3.4
 *   SUBSCRIBE / SUBACK .......... sections 3.8, 3.9
 *   PINGREQ / PINGRESP .......... sections 3.12, 3.13
 *   DISCONNECT .................. section 3.14
 *   fixed header, Remaining Length encoding: section 2.2
 *
 * Modes
 *
 *   throughput  P publishers on desktops/mb<run>-p<i>/bench, S subscribers
 *               on desktops/+/bench (Pod Arcade's topic rules; --plain:
 *               bench/<i> and bench/+), so every message fans out to all S
 *               subscribers. Publishers send
 *               as fast as they may, but a publisher may be at most --lead
 *               messages ahead of the slowest subscriber's progress on that
 *               publisher's stream (bounded lead), so no backlog can hide in
 *               socket buffers or broker queues. QoS 1: publishers keep at
 *               most --inflight unacknowledged PUBLISHes; subscribers ask for
 *               QoS 1 and PUBACK every message.
 *   latency     the same topology at a paced total publish rate (--rate);
 *               publish->deliver latency from a CLOCK_MONOTONIC stamp in the
 *               payload (one process, so one clock).
 *   idle        N clients CONNECT (in batches of --batch handshakes at a
 *               time) and stay connected for --hold seconds; with --pid the
 *               broker's VmRSS is read before and after.
 *
 * Payload (--size bytes, at least 32): magic "MQB1", run nonce, publisher
 * index, 0, sequence number (u64), send time in ns (u64), then filler. Each
 * subscriber checks, per publisher, that sequence numbers arrive in order
 * (MQTT 3.1.1 section 4.6: ordered per topic at QoS 0 and 1 on one
 * connection), and counts gaps (lost), late arrivals into a gap (reordered)
 * and repeats (duplicates). Anything malformed or unexpected is "bad" or, if
 * it breaks the stream, a fatal protocol error.
 *
 * With --pid the tool also reads the broker's CPU (utime+stime of all its
 * threads, /proc/PID/stat) and VmRSS over exactly the measured window.
 *
 * Build: cc -O2 -Wall -Wextra -o mqtt_bench mqtt_bench.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- MQTT 3.1.1 constants ------------------------------------------------ */

/* Control packet types, fixed header byte 1 bits 7-4 (section 2.2.1). */
#define MQTT_CONNECT 1
#define MQTT_CONNACK 2
#define MQTT_PUBLISH 3
#define MQTT_PUBACK 4
#define MQTT_SUBSCRIBE 8
#define MQTT_SUBACK 9
#define MQTT_PINGREQ 12
#define MQTT_PINGRESP 13
#define MQTT_DISCONNECT 14

#define MQTT_PROTOCOL_LEVEL 4         /* section 3.1.2.2: 3.1.1 */
#define MQTT_CONNECT_CLEAN_SESSION 0x02 /* section 3.1.2.4 */
#define MQTT_CONNECT_USERNAME 0x80      /* section 3.1.2.8 */
#define MQTT_MAX_REMAINING 268435455u /* section 2.2.3: four bytes */
#define MQTT_SUBACK_FAILURE 0x80      /* section 3.9.3 */

/* ---- limits ---------------------------------------------------------------- */

#define NS_PER_S 1000000000ull
#define MAX_PAYLOAD (1u << 20)
#define MAX_PACKET (MAX_PAYLOAD + 1024) /* larger incoming packets are fatal */
#define PAYLOAD_MAGIC 0x4D514231u       /* "MQB1" */
#define PAYLOAD_HEADER 32
#define MAX_GAPS 16
#define WBUF_HIGH (64 * 1024) /* a publisher stops building above this */
#define PUB_BURST 64          /* messages built per publisher per loop turn */
#define MAX_EVENTS 1024

/* ---- configuration -------------------------------------------------------- */

enum mode { MODE_THROUGHPUT, MODE_LATENCY, MODE_IDLE };

struct config {
    enum mode mode;
    const char *target;
    const char *topic;
    int pubs, subs, qos, size, clients, batch, keepalive;
    uint64_t lead;
    uint32_t inflight;
    double duration_s, warmup_s, drain_s, rate, hold_s, setup_timeout_s, stall_s;
    int pid; /* broker pid for /proc figures; 0 = none */
    bool json, allow_remote, nodelay, progress, plain;
};

static void usage(FILE *out)
{
    fprintf(out,
        "usage: mqtt_bench MODE --target HOST:PORT [options]\n"
        "modes:\n"
        "  throughput   fan-in/fan-out, publishers held to a bounded lead\n"
        "  latency      paced publish rate, publish->deliver latency\n"
        "  idle         many idle connected clients (broker memory with --pid)\n"
        "options:\n"
        "  --target HOST:PORT   broker, e.g. 127.0.0.1:1883 or [::1]:1883\n"
        "  --pubs P             publisher connections (default 16)\n"
        "  --subs S             subscriber connections, each on TOPIC/+ (default 16)\n"
        "  --qos 0|1            publish and subscribe QoS (default 0)\n"
        "  --size B             payload bytes, >= %d (default 256)\n"
        "  --topic T            last topic level (default bench): publisher i publishes\n"
        "                       on desktops/mb<run>-p<i>/T, subscribers use desktops/+/T\n"
        "                       (Pod Arcade's topic rules; client ids desktop:... with\n"
        "                       the desktop id as user name, and user:...)\n"
        "  --plain              any broker: publishers on T/<i>, subscribers on T/+,\n"
        "                       bare client ids, no user names\n"
        "  --duration S         measured seconds (default 10)\n"
        "  --warmup S           unmeasured seconds before (default 1)\n"
        "  --drain S            after sending stops, wait this long at most for\n"
        "                       the last deliveries and PUBACKs (default 5)\n"
        "  --lead N             throughput: a publisher may be at most N messages ahead\n"
        "                       of the slowest subscriber on its stream (default 1000)\n"
        "  --stall S            a publisher held by the lead this long without any\n"
        "                       progress gives its outstanding messages up (default 2)\n"
        "  --inflight N         QoS 1: unacknowledged PUBLISHes per publisher (default 64)\n"
        "  --rate R             latency: total publish rate, messages/s (default 1000)\n"
        "  --clients N          idle: connections (default 10000)\n"
        "  --batch N            idle: CONNECT handshakes in progress at once (default 100)\n"
        "  --hold S             idle: seconds to stay connected (default 5)\n"
        "  --keepalive S        CONNECT keep-alive (default 60); PINGREQ at half of it\n"
        "  --no-nodelay         leave Nagle on for the tool's sockets (default: TCP_NODELAY)\n"
        "  --pid PID            broker pid: report its CPU and VmRSS from /proc\n"
        "  --setup-timeout S    connect/subscribe phase limit (default 60)\n"
        "  --json               one JSON object instead of text\n"
        "  --progress           throughput/latency: print rates every second to stderr\n"
        "  --allow-remote       allow a non-loopback target (off: loopback only)\n"
        "exit status: 0 ok, 1 usage, setup or protocol error, 2 nothing delivered\n"
        "             (idle: not every client connected)\n",
        PAYLOAD_HEADER);
}

static double parse_double(const char *opt, const char *s, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || v < min || v > max) {
        fprintf(stderr, "mqtt_bench: bad value for %s: %s\n", opt, s);
        exit(1);
    }
    return v;
}

static void parse_args(int argc, char **argv, struct config *c)
{
    static const struct option opts[] = {
        {"target", required_argument, 0, 't'},
        {"pubs", required_argument, 0, 'p'},
        {"subs", required_argument, 0, 's'},
        {"qos", required_argument, 0, 'q'},
        {"size", required_argument, 0, 'z'},
        {"topic", required_argument, 0, 'o'},
        {"duration", required_argument, 0, 'd'},
        {"warmup", required_argument, 0, 'w'},
        {"drain", required_argument, 0, 'D'},
        {"lead", required_argument, 0, 'l'},
        {"stall", required_argument, 0, 'L'},
        {"inflight", required_argument, 0, 'i'},
        {"rate", required_argument, 0, 'r'},
        {"clients", required_argument, 0, 'c'},
        {"batch", required_argument, 0, 'b'},
        {"hold", required_argument, 0, 'H'},
        {"keepalive", required_argument, 0, 'k'},
        {"no-nodelay", no_argument, 0, 'N'},
        {"pid", required_argument, 0, 'P'},
        {"setup-timeout", required_argument, 0, 'S'},
        {"json", no_argument, 0, 'j'},
        {"progress", no_argument, 0, 'G'},
        {"plain", no_argument, 0, 'A'},
        {"allow-remote", no_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *c = (struct config){
        .topic = "bench", .pubs = 16, .subs = 16, .qos = 0, .size = 256, .clients = 10000,
        .batch = 100, .keepalive = 60, .lead = 1000, .inflight = 64, .duration_s = 10,
        .warmup_s = 1, .drain_s = 5, .rate = 1000, .hold_s = 5, .setup_timeout_s = 60, .stall_s = 2,
        .nodelay = true,
    };
    if (argc < 2) {
        usage(stderr);
        exit(1);
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        exit(0);
    }
    if (!strcmp(argv[1], "throughput"))
        c->mode = MODE_THROUGHPUT;
    else if (!strcmp(argv[1], "latency"))
        c->mode = MODE_LATENCY;
    else if (!strcmp(argv[1], "idle"))
        c->mode = MODE_IDLE;
    else {
        fprintf(stderr, "mqtt_bench: unknown mode %s\n", argv[1]);
        usage(stderr);
        exit(1);
    }
    optind = 2;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 't': c->target = optarg; break;
        case 'p': c->pubs = (int)parse_double("--pubs", optarg, 1, 10000); break;
        case 's': c->subs = (int)parse_double("--subs", optarg, 1, 10000); break;
        case 'q': c->qos = (int)parse_double("--qos", optarg, 0, 1); break;
        case 'z': c->size = (int)parse_double("--size", optarg, PAYLOAD_HEADER, MAX_PAYLOAD); break;
        case 'o': c->topic = optarg; break;
        case 'd': c->duration_s = parse_double("--duration", optarg, 0.001, 1e6); break;
        case 'w': c->warmup_s = parse_double("--warmup", optarg, 0, 1e6); break;
        case 'D': c->drain_s = parse_double("--drain", optarg, 0, 1e6); break;
        case 'l': c->lead = (uint64_t)parse_double("--lead", optarg, 1, 1e12); break;
        case 'L': c->stall_s = parse_double("--stall", optarg, 0.001, 1e6); break;
        case 'i': c->inflight = (uint32_t)parse_double("--inflight", optarg, 1, 65535); break;
        case 'r': c->rate = parse_double("--rate", optarg, 0.001, 1e9); break;
        case 'c': c->clients = (int)parse_double("--clients", optarg, 1, 1000000); break;
        case 'b': c->batch = (int)parse_double("--batch", optarg, 1, 1000000); break;
        case 'H': c->hold_s = parse_double("--hold", optarg, 0, 1e6); break;
        case 'k': c->keepalive = (int)parse_double("--keepalive", optarg, 0, 65535); break;
        case 'N': c->nodelay = false; break;
        case 'P': c->pid = (int)parse_double("--pid", optarg, 1, 1e9); break;
        case 'S': c->setup_timeout_s = parse_double("--setup-timeout", optarg, 0.1, 1e6); break;
        case 'j': c->json = true; break;
        case 'G': c->progress = true; break;
        case 'A': c->plain = true; break;
        case 'R': c->allow_remote = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(1);
        }
    }
    if (!c->target || optind != argc) {
        usage(stderr);
        exit(1);
    }
    if (strlen(c->topic) == 0 || strlen(c->topic) > 1000 || strpbrk(c->topic, "+#") ||
        (!c->plain && strchr(c->topic, '/'))) {
        fprintf(stderr, "mqtt_bench: --topic must be 1..1000 bytes without + or #"
                        " (and without / unless --plain)\n");
        exit(1);
    }
}

/* "127.0.0.1:1883" or "[::1]:1883" -> sockaddr. Numeric only: no DNS. */
static int parse_target(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *port;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
            return -1;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = 0;
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host)
            return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = 0;
        port = colon + 1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
}

/* ---- small helpers ---------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)) * NS_PER_S +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
}

static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        perror("mqtt_bench: realloc");
        exit(1);
    }
    return q;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *q = calloc(n ? n : 1, sz);
    if (!q) {
        perror("mqtt_bench: calloc");
        exit(1);
    }
    return q;
}

/* utime+stime of all threads of pid, in clock ticks; -1 if unreadable. */
static int64_t proc_cpu_ticks(int pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may contain spaces */
    if (!p)
        return -1;
    /* After ") " come fields 3 (state) .. ; utime is 14, stime 15. */
    unsigned long long ut, st;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (int64_t)(ut + st);
}

/* A "Key:   123 kB" line of /proc/pid/status, in kB; -1 if unreadable. */
static long proc_status_kb(int pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* Whole machine busy and total jiffies from /proc/stat's "cpu" line. */
static void host_jiffies(uint64_t *busy, uint64_t *total)
{
    *busy = *total = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return;
    unsigned long long v[10] = {0};
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 4) {
        /* guest and guest_nice (8, 9) are already in user and nice. */
        for (int i = 0; i < 8; i++)
            *total += v[i];
        *busy = *total - v[3] - v[4]; /* minus idle and iowait */
    }
    fclose(f);
}

/* ---- latency histogram ---------------------------------------------------- */

/* 1 us buckets below 100 ms, 1 ms buckets up to 100 s. */
#define HIST_FINE 100000
#define HIST_COARSE 100000

struct histogram {
    uint64_t fine[HIST_FINE];
    uint64_t coarse[HIST_COARSE];
    uint64_t count, sum_us, max_us;
};

static void hist_add(struct histogram *h, uint64_t us)
{
    if (us < HIST_FINE)
        h->fine[us]++;
    else
        h->coarse[us / 1000 < HIST_COARSE ? us / 1000 : HIST_COARSE - 1]++;
    h->count++;
    h->sum_us += us;
    if (us > h->max_us)
        h->max_us = us;
}

/* Smallest value v such that at least q of the samples are <= v. */
static uint64_t hist_quantile(const struct histogram *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (uint64_t i = 0; i < HIST_FINE; i++) {
        seen += h->fine[i];
        if (seen > rank)
            return i;
    }
    for (uint64_t i = 0; i < HIST_COARSE; i++) {
        seen += h->coarse[i];
        if (seen > rank)
            return i * 1000;
    }
    return h->max_us;
}

/* ---- connections ------------------------------------------------------------ */

enum role { ROLE_PUB, ROLE_SUB, ROLE_IDLE };
enum cstate {
    CS_UNUSED,
    CS_TCP_CONNECTING, /* connect() in progress; CONNECT waits in wbuf */
    CS_CONNECT_SENT,   /* waiting for CONNACK */
    CS_SUBSCRIBE_SENT, /* subscriber waiting for SUBACK */
    CS_READY,
    CS_CLOSED,
};

/* Missing sequence numbers [lo, hi) of one publisher's stream at one
 * subscriber. */
struct gap { uint64_t lo, hi; };

struct stream { /* one publisher's stream as one subscriber sees it */
    uint64_t next; /* highest sequence number seen + 1 */
    uint64_t floor; /* for the lead only: messages below this are given up
                       on (see unstick) */
    uint32_t ngaps;
    struct gap gaps[MAX_GAPS];
};

struct conn {
    int fd;
    uint8_t role, state;
    bool epollout;
    uint32_t idx;
    uint8_t *rbuf;
    uint32_t rlen, rcap;
    uint8_t *wbuf;
    uint32_t woff, wlen, wcap;
    uint64_t last_tx_ns;
    uint32_t pings_out;
    /* publisher */
    uint64_t next_seq; /* sequence number of the next message = messages sent */
    uint64_t acked;
    uint32_t inflight;
    uint16_t next_pid;
    uint64_t *pid_bits; /* QoS 1 packet ids awaiting PUBACK */
    uint64_t lead_since; /* held by the lead since (0 = not held) */
    uint64_t lead_min;   /* ... with the slowest subscriber at this position */
    /* subscriber */
    uint16_t sub_pid;
    struct stream *streams; /* [pubs] */
    uint64_t received;
};

struct stats {
    uint64_t published, delivered; /* within the measured window */
    uint64_t published_all, delivered_all;
    uint64_t acked_all;
    uint64_t lost, gap_events, reordered, duplicates, gap_overflow;
    uint64_t bad, dup_flag, qos_mismatch, retain_flag;
    uint64_t unsticks;
    uint64_t pump_turns, held_none, held_socket, held_inflight, held_lead, eagain;
    uint64_t pings, pingresps;
};

struct bench {
    const struct config *cfg;
    struct sockaddr_storage dst;
    socklen_t dlen;
    int ep;
    uint32_t nonce;
    char nonce_hex[9];

    struct conn *conns; /* pubs first, then subs (or idle clients) */
    int nconns;
    struct conn *pubs, *subs;
    char **topics; /* per publisher, "<topic>/<i>" */
    uint16_t *topic_len;
    /* Publisher i's topic is tpre + i + tsuf; subscribers use filter. */
    char tpre[1100], tsuf[1100], filter[1100];
    size_t tpre_len, tsuf_len, filter_len;

    uint64_t stall_ns;   /* --stall */
    uint64_t *min_next;  /* per publisher: min over subscribers of stream.next */
    bool *min_dirty;     /* a subscriber advanced on this stream since min_next */

    int ready;           /* connections in CS_READY */
    int connected_ever;  /* CONNACKs received */
    int failed;          /* idle: connections that failed before CONNACK */
    int dropped;         /* idle: connections lost after CONNACK */
    int closed_by_peer;

    bool measuring, sending;
    uint64_t measure_start, measure_end;
    struct stats st;
    struct histogram *hist;
    char fatal[256];
};

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { (void)sig; interrupted = 1; }

static void fatalf(struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fatalf(struct bench *b, const char *fmt, ...)
{
    if (b->fatal[0])
        return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->fatal, sizeof b->fatal, fmt, ap);
    va_end(ap);
}

static void ep_mod(struct bench *b, struct conn *c, bool out)
{
    if (c->epollout == out || c->fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(b->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        perror("mqtt_bench: epoll_ctl");
        exit(1);
    }
    c->epollout = out;
}

static void conn_close(struct bench *b, struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(b->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (c->state == CS_READY)
        b->ready--;
    c->state = CS_CLOSED;
}

/* The connection broke or misbehaved: fatal in throughput/latency, counted
 * in idle mode. */
static void conn_fail(struct bench *b, struct conn *c, const char *what)
{
    if (b->cfg->mode == MODE_IDLE) {
        /* A failure before CONNACK is a failed client, after it a dropped
         * one. Both are counted, neither stops the run. */
        if (c->state == CS_READY)
            b->dropped++;
        else
            b->failed++;
        conn_close(b, c);
        return;
    }
    const char *r = c->role == ROLE_PUB ? "publisher" : c->role == ROLE_SUB ? "subscriber" : "client";
    fatalf(b, "%s %u: %s", r, c->idx, what);
    conn_close(b, c);
}

static void wbuf_reserve(struct conn *c, uint32_t n)
{
    if (c->wcap - c->wlen >= n)
        return;
    if (c->woff > 0) { /* compact */
        memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
        c->wlen -= c->woff;
        c->woff = 0;
        if (c->wcap - c->wlen >= n)
            return;
    }
    uint32_t cap = c->wcap ? c->wcap : 64;
    while (cap - c->wlen < n)
        cap *= 2;
    c->wbuf = xrealloc(c->wbuf, cap);
    c->wcap = cap;
}

/* Remaining Length, section 2.2.3: 7 bits per byte, low first, bit 7 = more. */
static int put_remaining(uint8_t *p, uint32_t v)
{
    int n = 0;
    do {
        uint8_t d = v % 128;
        v /= 128;
        if (v)
            d |= 0x80;
        p[n++] = d;
    } while (v);
    return n;
}

/* Writes what is queued; returns false if the connection failed. */
static bool conn_flush(struct bench *b, struct conn *c, uint64_t now)
{
    if (c->fd < 0)
        return false;
    if (c->state == CS_TCP_CONNECTING)
        return true; /* EPOLLOUT is armed; flushed when connected */
    while (c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->woff += (uint32_t)n;
            c->last_tx_ns = now;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            b->st.eagain++;
            ep_mod(b, c, true);
            return true;
        }
        char msg[128];
        snprintf(msg, sizeof msg, "send: %s", n < 0 ? strerror(errno) : "wrote 0");
        conn_fail(b, c, msg);
        return false;
    }
    c->woff = c->wlen = 0;
    ep_mod(b, c, false);
    return true;
}

/* CONNECT, section 3.1: protocol name "MQTT", level 4, clean session,
 * keep-alive, client identifier, optional user name (no password).
 *
 * Pod Arcade's broker (protocol.md, PodArcadeAccessPolicy) accepts only
 * client ids "desktop:<x>" (user name = its desktop id, [a-z0-9-]{1,32},
 * which may publish below desktops/<id>/) and "user:<x>" (which may
 * subscribe below desktops/). By default the tool connects that way, which
 * any MQTT broker accepts; --plain uses bare ids and no user names. */
static void queue_connect(struct bench *b, struct conn *c)
{
    char id[64], user[40];
    char r = c->role == ROLE_PUB ? 'p' : c->role == ROLE_SUB ? 's' : 'i';
    int ulen = snprintf(user, sizeof user, "mb%s-%c%u", b->nonce_hex, r, c->idx);
    int idlen;
    bool with_user = false;
    if (b->cfg->plain)
        idlen = snprintf(id, sizeof id, "%s", user);
    else if (c->role == ROLE_PUB) {
        idlen = snprintf(id, sizeof id, "desktop:%s", user);
        with_user = true;
    } else
        idlen = snprintf(id, sizeof id, "user:%s", user);
    uint32_t rem = 10 + 2 + (uint32_t)idlen + (with_user ? 2 + (uint32_t)ulen : 0);
    wbuf_reserve(c, 5 + rem);
    uint8_t *p = c->wbuf + c->wlen;
    *p++ = MQTT_CONNECT << 4;
    p += put_remaining(p, rem);
    put16(p, 4);
    memcpy(p + 2, "MQTT", 4);
    p[6] = MQTT_PROTOCOL_LEVEL;
    p[7] = MQTT_CONNECT_CLEAN_SESSION | (with_user ? MQTT_CONNECT_USERNAME : 0);
    put16(p + 8, (uint16_t)b->cfg->keepalive);
    put16(p + 10, (uint16_t)idlen);
    memcpy(p + 12, id, (size_t)idlen);
    p += 12 + idlen;
    if (with_user) {
        put16(p, (uint16_t)ulen);
        memcpy(p + 2, user, (size_t)ulen);
        p += 2 + ulen;
    }
    c->wlen = (uint32_t)(p - c->wbuf);
}

/* SUBSCRIBE, section 3.8: fixed header flags 0010, packet id, one filter
 * (desktops/+/<topic>, or <topic>/+ with --plain) with the requested QoS. */
static void queue_subscribe(struct bench *b, struct conn *c)
{
    uint16_t flen = (uint16_t)b->filter_len;
    uint32_t rem = 2 + 2 + flen + 1;
    wbuf_reserve(c, 5 + rem);
    uint8_t *p = c->wbuf + c->wlen;
    *p++ = MQTT_SUBSCRIBE << 4 | 0x02;
    p += put_remaining(p, rem);
    c->sub_pid = (uint16_t)(1 + c->idx % 60000);
    put16(p, c->sub_pid);
    put16(p + 2, flen);
    memcpy(p + 4, b->filter, flen);
    p[4 + flen] = (uint8_t)b->cfg->qos;
    p += 5 + flen;
    c->wlen = (uint32_t)(p - c->wbuf);
}

static void queue_simple(struct conn *c, uint8_t type)
{
    wbuf_reserve(c, 2);
    c->wbuf[c->wlen++] = (uint8_t)(type << 4);
    c->wbuf[c->wlen++] = 0;
}

static void queue_puback(struct conn *c, uint16_t pid)
{
    wbuf_reserve(c, 4);
    uint8_t *p = c->wbuf + c->wlen;
    p[0] = MQTT_PUBACK << 4;
    p[1] = 2;
    put16(p + 2, pid);
    c->wlen += 4;
}

/* PUBLISH, section 3.3, built straight into the publisher's buffer. */
static void queue_publish(struct bench *b, struct conn *c, uint64_t ts)
{
    const struct config *cfg = b->cfg;
    uint32_t tl = b->topic_len[c->idx];
    uint32_t rem = 2 + tl + (cfg->qos ? 2 : 0) + (uint32_t)cfg->size;
    wbuf_reserve(c, 5 + rem);
    uint8_t *p = c->wbuf + c->wlen;
    *p++ = (uint8_t)(MQTT_PUBLISH << 4 | cfg->qos << 1); /* DUP 0, RETAIN 0 */
    p += put_remaining(p, rem);
    put16(p, (uint16_t)tl);
    memcpy(p + 2, b->topics[c->idx], tl);
    p += 2 + tl;
    if (cfg->qos) {
        uint16_t pid = c->next_pid;
        while (c->pid_bits[pid / 64] >> (pid % 64) & 1) /* in use: skip */
            pid = (uint16_t)(pid == 65535 ? 1 : pid + 1);
        c->pid_bits[pid / 64] |= 1ull << (pid % 64);
        c->next_pid = (uint16_t)(pid == 65535 ? 1 : pid + 1);
        c->inflight++;
        put16(p, pid);
        p += 2;
    }
    uint32_t hdr[4] = {PAYLOAD_MAGIC, b->nonce, c->idx, 0};
    uint64_t seq = c->next_seq++;
    memcpy(p, hdr, 16);
    memcpy(p + 16, &seq, 8);
    memcpy(p + 24, &ts, 8);
    memset(p + 32, (int)(seq & 0xFF), (size_t)cfg->size - PAYLOAD_HEADER);
    p += cfg->size;
    c->wlen = (uint32_t)(p - c->wbuf);
    b->st.published_all++;
    if (b->measuring)
        b->st.published++;
}

/* ---- stream bookkeeping (per subscriber, per publisher) ----------------- */

static void gap_add(struct bench *b, struct stream *s, uint64_t lo, uint64_t hi)
{
    if (s->ngaps == MAX_GAPS) { /* forget the oldest; its late arrivals
                                   would then count as duplicates */
        b->st.gap_overflow++;
        memmove(&s->gaps[0], &s->gaps[1], (MAX_GAPS - 1) * sizeof s->gaps[0]);
        s->ngaps--;
    }
    s->gaps[s->ngaps++] = (struct gap){lo, hi};
}

static void stream_receive(struct bench *b, struct stream *s, uint64_t seq)
{
    if (seq == s->next) { /* the normal case */
        s->next++;
        return;
    }
    if (seq > s->next) {
        gap_add(b, s, s->next, seq);
        b->st.gap_events++;
        s->next = seq + 1;
        return;
    }
    for (uint32_t i = 0; i < s->ngaps; i++) {
        struct gap *g = &s->gaps[i];
        if (seq < g->lo || seq >= g->hi)
            continue;
        b->st.reordered++;
        if (seq == g->lo)
            g->lo++;
        else if (seq == g->hi - 1)
            g->hi--;
        else {
            uint64_t hi = g->hi;
            g->hi = seq;
            gap_add(b, s, seq + 1, hi);
            return;
        }
        if (g->lo == g->hi) {
            memmove(&s->gaps[i], &s->gaps[i + 1], (s->ngaps - i - 1) * sizeof *g);
            s->ngaps--;
        }
        return;
    }
    b->st.duplicates++;
}

/* ---- incoming packets -------------------------------------------------------- */

static void handle_publish(struct bench *b, struct conn *c, uint8_t flags, const uint8_t *v,
                           uint32_t rem, uint64_t now)
{
    const struct config *cfg = b->cfg;
    uint8_t qos = (flags >> 1) & 3;
    if (c->role != ROLE_SUB || (c->state != CS_READY && c->state != CS_SUBSCRIBE_SENT)) {
        conn_fail(b, c, "PUBLISH on a connection that did not subscribe");
        return;
    }
    if (qos == 3) { /* section 3.3.1.2: malformed */
        conn_fail(b, c, "PUBLISH with QoS 3");
        return;
    }
    if (rem < 2) {
        conn_fail(b, c, "PUBLISH too short");
        return;
    }
    uint32_t tl = get16(v);
    uint32_t off = 2 + tl + (qos ? 2 : 0);
    if (off > rem) {
        conn_fail(b, c, "PUBLISH topic/packet id beyond its Remaining Length");
        return;
    }
    uint16_t pid = qos ? get16(v + 2 + tl) : 0;
    if (qos && pid == 0) { /* section 2.3.1: non-zero */
        conn_fail(b, c, "PUBLISH QoS 1 with packet id 0");
        return;
    }
    if (qos == 2) {
        /* Never requested (max QoS in SUBSCRIBE is cfg->qos <= 1). Acking it
         * would need PUBREC; treat as a broker error. */
        conn_fail(b, c, "PUBLISH QoS 2 though QoS <= 1 was granted");
        return;
    }
    if (qos)
        queue_puback(c, pid); /* section 4.3.2: acknowledge whatever it is */
    if (flags & 0x08)
        b->st.dup_flag++;
    if (flags & 0x01)
        b->st.retain_flag++; /* section 3.3.1.3: must be 0 on a live subscription */
    if (qos != cfg->qos)
        b->st.qos_mismatch++; /* delivered QoS = min(publish, granted) = cfg->qos */

    /* Topic must be tpre + <publisher index, 1..5 digits> + tsuf. */
    const uint8_t *t = v + 2;
    uint32_t pub = 0;
    bool ok = tl > b->tpre_len + b->tsuf_len && tl <= b->tpre_len + b->tsuf_len + 5 &&
              !memcmp(t, b->tpre, b->tpre_len) &&
              !memcmp(t + tl - b->tsuf_len, b->tsuf, b->tsuf_len);
    for (uint32_t i = (uint32_t)b->tpre_len; ok && i < tl - b->tsuf_len; i++) {
        if (t[i] < '0' || t[i] > '9')
            ok = false;
        else
            pub = pub * 10 + (uint32_t)(t[i] - '0');
    }
    const uint8_t *pl = v + off;
    uint32_t plen = rem - off;
    uint32_t hdr[4];
    uint64_t seq, ts;
    if (ok && plen == (uint32_t)cfg->size) {
        memcpy(hdr, pl, 16);
        memcpy(&seq, pl + 16, 8);
        memcpy(&ts, pl + 24, 8);
        ok = hdr[0] == PAYLOAD_MAGIC && hdr[1] == b->nonce && hdr[2] == pub &&
             pub < (uint32_t)cfg->pubs && seq < b->pubs[pub].next_seq && ts <= now;
    } else
        ok = false;
    if (!ok) {
        b->st.bad++;
        return;
    }
    struct stream *s = &c->streams[pub];
    if (seq >= s->next)
        b->min_dirty[pub] = true; /* this stream's progress moved on */
    stream_receive(b, s, seq);
    c->received++;
    b->st.delivered_all++;
    if (now >= b->measure_start && now < b->measure_end) {
        b->st.delivered++;
        hist_add(b->hist, (now - ts) / 1000);
    }
}

static void handle_packet(struct bench *b, struct conn *c, uint8_t type, uint8_t flags,
                          const uint8_t *v, uint32_t rem, uint64_t now)
{
    switch (type) {
    case MQTT_PUBLISH:
        handle_publish(b, c, flags, v, rem, now);
        return;
    case MQTT_PUBACK: /* section 3.4 */
        if (flags != 0 || rem != 2 || c->role != ROLE_PUB || b->cfg->qos != 1) {
            conn_fail(b, c, "unexpected or malformed PUBACK");
            return;
        }
        {
            uint16_t pid = get16(v);
            if (pid && (c->pid_bits[pid / 64] >> (pid % 64) & 1)) {
                c->pid_bits[pid / 64] &= ~(1ull << (pid % 64));
                c->inflight--;
                c->acked++;
                b->st.acked_all++;
            } else
                b->st.bad++; /* PUBACK for nothing outstanding */
        }
        return;
    case MQTT_CONNACK: /* section 3.2 */
        if (flags != 0 || rem != 2 || c->state != CS_CONNECT_SENT || (v[0] & 0xFE)) {
            conn_fail(b, c, "unexpected or malformed CONNACK");
            return;
        }
        if (v[1] != 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "CONNACK refused, return code %u", v[1]);
            conn_fail(b, c, msg);
            return;
        }
        if (v[0] & 1) { /* clean session: section 3.2.2.2 says 0 */
            conn_fail(b, c, "CONNACK session present for a clean session");
            return;
        }
        b->connected_ever++;
        if (c->role == ROLE_SUB) {
            queue_subscribe(b, c);
            c->state = CS_SUBSCRIBE_SENT;
            conn_flush(b, c, now);
        } else {
            c->state = CS_READY;
            b->ready++;
        }
        return;
    case MQTT_SUBACK: /* section 3.9 */
        if (flags != 0 || rem != 3 || c->state != CS_SUBSCRIBE_SENT || get16(v) != c->sub_pid) {
            conn_fail(b, c, "unexpected or malformed SUBACK");
            return;
        }
        if (v[2] != b->cfg->qos) {
            char msg[64];
            snprintf(msg, sizeof msg, "SUBACK granted 0x%02x, asked QoS %d", v[2], b->cfg->qos);
            conn_fail(b, c, msg);
            return;
        }
        c->state = CS_READY;
        b->ready++;
        return;
    case MQTT_PINGRESP: /* section 3.13 */
        if (flags != 0 || rem != 0 || c->pings_out == 0) {
            conn_fail(b, c, "unexpected or malformed PINGRESP");
            return;
        }
        c->pings_out--;
        b->st.pingresps++;
        return;
    default: {
        char msg[64];
        snprintf(msg, sizeof msg, "unexpected packet type %u", type);
        conn_fail(b, c, msg);
        return;
    }
    }
}

/* Parses every complete packet in rbuf. Returns false if the connection
 * failed. */
static bool parse_packets(struct bench *b, struct conn *c, uint64_t now)
{
    uint32_t pos = 0;
    while (c->fd >= 0) {
        uint32_t avail = c->rlen - pos;
        if (avail < 2)
            break;
        const uint8_t *p = c->rbuf + pos;
        uint32_t rem = 0, mult = 1, i = 1;
        bool complete = false;
        for (; i < 5 && i < avail; i++) {
            rem += (uint32_t)(p[i] & 0x7F) * mult;
            mult *= 128;
            if (!(p[i] & 0x80)) {
                complete = true;
                i++;
                break;
            }
        }
        if (!complete) {
            if (i >= 5) {
                conn_fail(b, c, "malformed Remaining Length");
                return false;
            }
            break; /* length bytes still coming */
        }
        uint32_t total = i + rem;
        if (rem > MQTT_MAX_REMAINING || total > MAX_PACKET) {
            conn_fail(b, c, "packet larger than this tool accepts");
            return false;
        }
        if (avail < total) {
            if (total > c->rcap) {
                memmove(c->rbuf, p, avail);
                c->rlen = avail;
                pos = 0;
                c->rbuf = xrealloc(c->rbuf, total);
                c->rcap = total;
            }
            break;
        }
        handle_packet(b, c, p[0] >> 4, p[0] & 0x0F, p + i, rem, now);
        pos += total;
    }
    if (c->fd < 0)
        return false;
    if (pos) {
        memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
        c->rlen -= pos;
    }
    return true;
}

static void conn_readable(struct bench *b, struct conn *c)
{
    for (int rounds = 0; rounds < 4 && c->fd >= 0; rounds++) {
        uint32_t room = c->rcap - c->rlen;
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, room, MSG_DONTWAIT);
        if (n > 0) {
            c->rlen += (uint32_t)n;
            uint64_t now = now_ns();
            if (!parse_packets(b, c, now))
                return;
            if (c->wlen > c->woff && !conn_flush(b, c, now)) /* PUBACKs */
                return;
            if ((uint32_t)n < room)
                return; /* drained */
            continue;
        }
        if (n == 0) {
            b->closed_by_peer++;
            conn_fail(b, c, "broker closed the connection");
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        char msg[128];
        snprintf(msg, sizeof msg, "recv: %s", strerror(errno));
        conn_fail(b, c, msg);
        return;
    }
}

static void conn_writable(struct bench *b, struct conn *c, uint64_t now)
{
    if (c->state == CS_TCP_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
            err = errno;
        if (err) {
            char msg[128];
            snprintf(msg, sizeof msg, "connect: %s", strerror(err));
            conn_fail(b, c, msg);
            return;
        }
        c->state = CS_CONNECT_SENT;
    }
    conn_flush(b, c, now);
}

static void conn_open(struct bench *b, struct conn *c, uint64_t now)
{
    const struct config *cfg = b->cfg;
    int fd = socket(b->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "socket: %s", strerror(errno));
        c->fd = -1;
        conn_fail(b, c, msg);
        return;
    }
    if (cfg->nodelay) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    c->fd = fd;
    c->epollout = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(b->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        perror("mqtt_bench: epoll_ctl ADD");
        exit(1);
    }
    queue_connect(b, c);
    c->last_tx_ns = now;
    if (connect(fd, (const struct sockaddr *)&b->dst, b->dlen) == 0) {
        c->state = CS_CONNECT_SENT;
        conn_flush(b, c, now);
    } else if (errno == EINPROGRESS) {
        c->state = CS_TCP_CONNECTING;
    } else {
        char msg[128];
        snprintf(msg, sizeof msg, "connect: %s", strerror(errno));
        c->state = CS_TCP_CONNECTING;
        conn_fail(b, c, msg);
    }
}

/* PINGREQ on connections that sent nothing for keep-alive/2 (section 3.1.2.10
 * lets the server drop a client silent for 1.5 x keep-alive). */
static void keepalive_scan(struct bench *b, uint64_t now)
{
    if (b->cfg->keepalive == 0)
        return;
    uint64_t half = (uint64_t)b->cfg->keepalive * (uint64_t)(NS_PER_S / 2);
    for (int i = 0; i < b->nconns; i++) {
        struct conn *c = &b->conns[i];
        if (c->fd < 0 || c->state < CS_CONNECT_SENT || c->state == CS_CLOSED)
            continue;
        if (now - c->last_tx_ns >= half) {
            queue_simple(c, MQTT_PINGREQ);
            c->pings_out++;
            b->st.pings++;
            c->last_tx_ns = now; /* also if the write is still pending */
            conn_flush(b, c, now);
        }
    }
}

/* One epoll round: waits at most timeout_ns, handles what is ready. */
static void poll_once(struct bench *b, uint64_t timeout_ns)
{
    static struct epoll_event evs[MAX_EVENTS];
    static bool no_pwait2;
    int n;
    if (!no_pwait2) {
        struct timespec ts = {.tv_sec = (time_t)(timeout_ns / NS_PER_S),
                              .tv_nsec = (long)(timeout_ns % NS_PER_S)};
        n = epoll_pwait2(b->ep, evs, MAX_EVENTS, &ts, NULL);
        if (n < 0 && errno == ENOSYS) {
            no_pwait2 = true;
            return;
        }
    } else {
        n = epoll_wait(b->ep, evs, MAX_EVENTS, (int)((timeout_ns + 999999) / 1000000));
    }
    if (n < 0) {
        if (errno == EINTR)
            return;
        perror("mqtt_bench: epoll_wait");
        exit(1);
    }
    uint64_t now = n ? now_ns() : 0;
    for (int i = 0; i < n; i++) {
        struct conn *c = evs[i].data.ptr;
        if (c->fd < 0)
            continue;
        uint32_t e = evs[i].events;
        if (e & EPOLLOUT)
            conn_writable(b, c, now);
        if (c->fd >= 0 && (e & (EPOLLIN | EPOLLHUP | EPOLLERR)))
            conn_readable(b, c);
    }
}

/* ---- publishers ---------------------------------------------------------- */

static uint64_t min_next(struct bench *b, uint32_t pub)
{
    if (b->min_dirty[pub]) {
        uint64_t m = UINT64_MAX;
        for (int s = 0; s < b->cfg->subs; s++) {
            const struct stream *st = &b->subs[s].streams[pub];
            uint64_t n = st->next > st->floor ? st->next : st->floor;
            if (n < m)
                m = n;
        }
        b->min_next[pub] = m;
        b->min_dirty[pub] = false;
    }
    return b->min_next[pub];
}

/* A broker that drops the last messages of a stream (QoS 0 may be dropped;
 * a broker short of queue space may drop QoS 1 too) would leave the
 * publisher held by the lead forever: the missing messages never arrive, so
 * the slowest subscriber's position never moves, and the publisher never
 * sends the message that would show the gap. After --stall seconds without
 * progress the lead gives the outstanding messages up (for pacing only; if
 * they arrive later they count normally, if not they are lost). */
static void unstick(struct bench *b, struct conn *c)
{
    for (int s = 0; s < b->cfg->subs; s++) {
        struct stream *st = &b->subs[s].streams[c->idx];
        if (st->next < c->next_seq && st->floor < c->next_seq)
            st->floor = c->next_seq;
    }
    b->min_dirty[c->idx] = true;
    b->st.unsticks++;
}

/* What holds publisher c back from sending one more message now. */
enum hold { HOLD_NONE, HOLD_SOCKET, HOLD_INFLIGHT, HOLD_LEAD, HOLD_DOWN };

static enum hold pub_hold(struct bench *b, struct conn *c)
{
    if (c->state != CS_READY || c->fd < 0)
        return HOLD_DOWN;
    if (c->wlen - c->woff >= WBUF_HIGH)
        return HOLD_SOCKET; /* the broker does not read fast enough */
    if (b->cfg->qos && c->inflight >= b->cfg->inflight)
        return HOLD_INFLIGHT; /* the broker does not PUBACK fast enough */
    uint64_t m = min_next(b, c->idx);
    if (c->next_seq < m + b->cfg->lead) {
        c->lead_since = 0;
        return HOLD_NONE;
    }
    /* The slowest subscriber is --lead behind. */
    uint64_t now = now_ns();
    if (c->lead_since == 0 || m != c->lead_min) {
        c->lead_since = now; /* held from now, or progress since */
        c->lead_min = m;
    } else if (now - c->lead_since >= b->stall_ns) {
        unstick(b, c);
        c->lead_since = 0;
        if (c->next_seq < min_next(b, c->idx) + b->cfg->lead)
            return HOLD_NONE;
    }
    return HOLD_LEAD;
}

/* Throughput: builds up to PUB_BURST messages and writes them. Returns true
 * if it stopped only because of the burst limit (it may go on at once).
 * Counts, per call, why the publisher stopped. */
static bool pub_pump(struct bench *b, struct conn *c, uint64_t now)
{
    int built = 0;
    enum hold h;
    while ((h = pub_hold(b, c)) == HOLD_NONE && built < PUB_BURST) {
        queue_publish(b, c, now);
        built++;
    }
    if (built && !conn_flush(b, c, now))
        return false;
    if (h == HOLD_NONE && built == PUB_BURST && c->wlen - c->woff >= WBUF_HIGH)
        h = HOLD_SOCKET; /* the write just now left data behind */
    if (b->measuring) {
        b->st.pump_turns++;
        switch (h) {
        case HOLD_NONE: b->st.held_none++; break;
        case HOLD_SOCKET: b->st.held_socket++; break;
        case HOLD_INFLIGHT: b->st.held_inflight++; break;
        case HOLD_LEAD: b->st.held_lead++; break;
        case HOLD_DOWN: break;
        }
    }
    return h == HOLD_NONE;
}

/* ---- runs ---------------------------------------------------------------- */

struct window { /* resource snapshot at the start of the measured window */
    uint64_t wall, cpu, host_busy, host_total;
    int64_t srv_ticks;
};

static void window_snap(const struct bench *b, struct window *w)
{
    w->wall = now_ns();
    w->cpu = cpu_ns();
    host_jiffies(&w->host_busy, &w->host_total);
    w->srv_ticks = b->cfg->pid ? proc_cpu_ticks(b->cfg->pid) : -1;
}

struct result_res {
    double wall_s, tool_cpu_pct, host_busy_pct, server_cpu_pct;
    long server_rss_kb, server_threads;
};

static void window_end(const struct bench *b, const struct window *w0, struct result_res *r)
{
    struct window w1;
    window_snap(b, &w1);
    r->wall_s = (double)(w1.wall - w0->wall) / 1e9;
    r->tool_cpu_pct = r->wall_s > 0 ? 100.0 * (double)(w1.cpu - w0->cpu) / 1e9 / r->wall_s : 0;
    uint64_t ht = w1.host_total - w0->host_total;
    r->host_busy_pct = ht ? 100.0 * (double)(w1.host_busy - w0->host_busy) / (double)ht : 0;
    r->server_cpu_pct = -1;
    r->server_rss_kb = r->server_threads = -1;
    if (b->cfg->pid && w0->srv_ticks >= 0 && w1.srv_ticks >= 0 && r->wall_s > 0) {
        r->server_cpu_pct = 100.0 * (double)(w1.srv_ticks - w0->srv_ticks) /
                            (double)sysconf(_SC_CLK_TCK) / r->wall_s;
        r->server_rss_kb = proc_status_kb(b->cfg->pid, "VmRSS");
        r->server_threads = proc_status_kb(b->cfg->pid, "Threads");
    }
}

/* Opens every publisher and subscriber, waits for CONNACKs and SUBACKs. */
static bool setup_fanout(struct bench *b)
{
    uint64_t start = now_ns();
    uint64_t deadline = start + (uint64_t)(b->cfg->setup_timeout_s * 1e9);
    /* Subscribers first, so nothing is published before they listen. */
    for (int i = 0; i < b->cfg->subs; i++)
        conn_open(b, &b->subs[i], start);
    for (int i = 0; i < b->cfg->pubs; i++)
        conn_open(b, &b->pubs[i], start);
    while (b->ready < b->nconns && !b->fatal[0] && !interrupted) {
        uint64_t now = now_ns();
        if (now >= deadline) {
            fatalf(b, "only %d of %d connections ready after %.0f s", b->ready, b->nconns,
                   b->cfg->setup_timeout_s);
            break;
        }
        poll_once(b, deadline - now < 10000000 ? deadline - now : 10000000);
    }
    return !b->fatal[0] && !interrupted;
}

static bool drained(struct bench *b)
{
    for (int p = 0; p < b->cfg->pubs; p++) {
        struct conn *pc = &b->pubs[p];
        if (pc->inflight)
            return false;
        for (int s = 0; s < b->cfg->subs; s++)
            if (b->subs[s].streams[p].next < pc->next_seq)
                return false;
    }
    return true;
}

static void finish_streams(struct bench *b)
{
    for (int s = 0; s < b->cfg->subs; s++)
        for (int p = 0; p < b->cfg->pubs; p++) {
            const struct stream *st = &b->subs[s].streams[p];
            b->st.lost += b->pubs[p].next_seq - st->next;
            for (uint32_t g = 0; g < st->ngaps; g++)
                b->st.lost += st->gaps[g].hi - st->gaps[g].lo;
        }
}

static void disconnect_all(struct bench *b)
{
    uint64_t now = now_ns();
    for (int i = 0; i < b->nconns; i++) {
        struct conn *c = &b->conns[i];
        if (c->fd < 0)
            continue;
        if (c->state >= CS_CONNECT_SENT && c->state != CS_CLOSED) {
            queue_simple(c, MQTT_DISCONNECT);
            conn_flush(b, c, now); /* best effort */
        }
        conn_close(b, c);
    }
}

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0; }

/* Throughput and latency share everything except how publishers are driven. */
static int run_fanout(struct bench *b)
{
    const struct config *cfg = b->cfg;
    struct window w0 = {0};
    struct result_res res = {0};
    double drain_used = 0;
    bool complete = false;
    uint64_t pace_lag_max = 0, pace_late_1ms = 0, pace_k = 0;

    if (setup_fanout(b)) {
        uint64_t t0 = now_ns();
        b->measure_start = t0 + (uint64_t)(cfg->warmup_s * 1e9);
        b->measure_end = b->measure_start + (uint64_t)(cfg->duration_s * 1e9);
        b->sending = true;
        b->measuring = cfg->warmup_s == 0;
        if (b->measuring)
            window_snap(b, &w0);
        const double interval_ns = 1e9 / cfg->rate;
        uint64_t next_due = t0, drain_start = 0, drain_deadline = 0, last_ka = t0;
        uint64_t prog_deliv = b->st.delivered_all, prog_pub = b->st.published_all;
        int rr = 0;
        for (;;) {
            uint64_t now = now_ns();
            if (interrupted || b->fatal[0])
                break;
            if (!b->measuring && now >= b->measure_start) {
                b->measuring = true;
                window_snap(b, &w0);
            }
            if (b->sending && now >= b->measure_end) {
                b->sending = false;
                window_end(b, &w0, &res);
                drain_start = now;
                drain_deadline = now + (uint64_t)(cfg->drain_s * 1e9);
            }
            if (!b->sending) {
                if (drained(b)) {
                    complete = true;
                    break;
                }
                if (now >= drain_deadline)
                    break;
            }
            if (now - last_ka >= NS_PER_S) {
                keepalive_scan(b, now);
                if (cfg->progress) {
                    double dt = (double)(now - last_ka) / 1e9;
                    fprintf(stderr, "%6.1f s  delivered %8.0f/s  published %7.0f/s  gaps so far"
                            " %" PRIu64 "  gave up %" PRIu64 "\n", (double)(now - t0) / 1e9,
                            (double)(b->st.delivered_all - prog_deliv) / dt,
                            (double)(b->st.published_all - prog_pub) / dt, b->st.gap_events,
                            b->st.unsticks);
                    prog_deliv = b->st.delivered_all;
                    prog_pub = b->st.published_all;
                }
                last_ka = now;
            }

            uint64_t timeout = 10 * 1000 * 1000;
            if (b->sending && cfg->mode == MODE_THROUGHPUT) {
                bool more = false;
                for (int i = 0; i < cfg->pubs; i++) {
                    int p = (rr + i) % cfg->pubs;
                    if (pub_pump(b, &b->pubs[p], now))
                        more = true;
                }
                rr = (rr + 1) % cfg->pubs;
                if (more)
                    timeout = 0;
            } else if (b->sending) { /* latency: paced, round robin */
                while (now >= next_due) {
                    struct conn *c = &b->pubs[pace_k % (uint64_t)cfg->pubs];
                    if (pub_hold(b, c) != HOLD_NONE)
                        break; /* retried next turn; shows up as lag */
                    uint64_t lag = now - next_due;
                    if (lag > pace_lag_max)
                        pace_lag_max = lag;
                    if (lag > 1000000)
                        pace_late_1ms++;
                    uint64_t ts = now_ns();
                    queue_publish(b, c, ts);
                    if (!conn_flush(b, c, ts))
                        break;
                    pace_k++;
                    next_due = t0 + (uint64_t)((double)pace_k * interval_ns);
                    now = now_ns();
                }
                if (next_due > now && next_due - now < timeout)
                    timeout = next_due - now;
                else if (next_due <= now)
                    timeout = 100 * 1000; /* blocked by lead/window: retry soon */
            }
            if (b->sending) {
                uint64_t until = b->measuring ? b->measure_end : b->measure_start;
                if (until > now && until - now < timeout)
                    timeout = until - now;
            } else if (drain_deadline > now && drain_deadline - now < timeout)
                timeout = drain_deadline - now;
            poll_once(b, timeout);
        }
        if (b->sending && b->measuring) /* interrupted or failed mid-run */
            window_end(b, &w0, &res);
        if (drain_start)
            drain_used = (double)(now_ns() - drain_start) / 1e9;
    }
    finish_streams(b);
    disconnect_all(b);

    const struct stats *st = &b->st;
    /* Deliveries are counted by arrival time in [measure_start,
     * measure_end), exactly duration_s long unless the run was cut short. */
    double dur = cfg->duration_s;
    if (b->sending && res.wall_s > 0)
        dur = res.wall_s;
    double deliv_ps = (double)st->delivered / dur, pub_ps = (double)st->published / dur;
    uint64_t expected = st->published_all * (uint64_t)cfg->subs;
    uint64_t p50 = hist_quantile(b->hist, 0.50), p99 = hist_quantile(b->hist, 0.99),
             p999 = hist_quantile(b->hist, 0.999);
    double mean = b->hist->count ? (double)b->hist->sum_us / (double)b->hist->count : 0;
    const char *mode = cfg->mode == MODE_THROUGHPUT ? "throughput" : "latency";

    if (cfg->json) {
        printf("{\"mode\":\"%s\",\"target\":\"%s\",\"qos\":%d,\"pubs\":%d,\"subs\":%d,"
               "\"size\":%d,\"lead\":%" PRIu64 ",\"inflight\":%u,\"rate_offered\":%.0f,"
               "\"duration_s\":%.3f,\"warmup_s\":%.3f,\"published\":%" PRIu64
               ",\"published_per_s\":%.0f,\"delivered\":%" PRIu64 ",\"delivered_per_s\":%.0f,"
               "\"published_all\":%" PRIu64 ",\"delivered_all\":%" PRIu64
               ",\"expected_all\":%" PRIu64 ",\"complete\":%s,\"drain_s\":%.3f,"
               "\"lost\":%" PRIu64 ",\"gap_events\":%" PRIu64 ",\"reordered\":%" PRIu64
               ",\"duplicates\":%" PRIu64 ",\"bad\":%" PRIu64 ",\"dup_flag\":%" PRIu64
               ",\"qos_mismatch\":%" PRIu64 ",\"retain_flag\":%" PRIu64
               ",\"acked\":%" PRIu64 ",\"unsticks\":%" PRIu64 ",\"held_lead_pct\":%.1f,\"held_inflight_pct\":%.1f"
               ",\"held_socket_pct\":%.1f,\"held_none_pct\":%.1f"
               ",\"p50_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 ",\"p999_us\":%" PRIu64
               ",\"max_us\":%" PRIu64 ",\"mean_us\":%.1f,\"samples\":%" PRIu64
               ",\"pace_lag_max_us\":%" PRIu64 ",\"pace_late_1ms\":%" PRIu64
               ",\"tool_cpu_pct\":%.1f,\"server_cpu_pct\":%.1f,\"server_rss_kb\":%ld,"
               "\"server_threads\":%ld,\"host_busy_pct\":%.1f,\"wall_s\":%.3f,"
               "\"error\":\"%s\"}\n",
               mode, cfg->target, cfg->qos, cfg->pubs, cfg->subs, cfg->size, cfg->lead,
               cfg->inflight, cfg->mode == MODE_LATENCY ? cfg->rate : 0, dur, cfg->warmup_s,
               st->published, pub_ps, st->delivered, deliv_ps, st->published_all,
               st->delivered_all, expected, complete ? "true" : "false", drain_used, st->lost,
               st->gap_events, st->reordered, st->duplicates, st->bad, st->dup_flag,
               st->qos_mismatch, st->retain_flag, st->acked_all, st->unsticks, pct(st->held_lead, st->pump_turns),
               pct(st->held_inflight, st->pump_turns), pct(st->held_socket, st->pump_turns),
               pct(st->held_none, st->pump_turns), p50, p99, p999, b->hist->max_us, mean, b->hist->count,
               pace_lag_max / 1000, pace_late_1ms, res.tool_cpu_pct, res.server_cpu_pct,
               res.server_rss_kb, res.server_threads, res.host_busy_pct, res.wall_s, b->fatal);
    } else {
        printf("%s %s  QoS %d  %d pubs x %d subs  %d-byte payloads  %.1f s", mode, cfg->target,
               cfg->qos, cfg->pubs, cfg->subs, cfg->size, dur);
        if (cfg->mode == MODE_THROUGHPUT)
            printf("  lead %" PRIu64, cfg->lead);
        else
            printf("  rate %.0f/s", cfg->rate);
        if (cfg->qos)
            printf("  inflight %u", cfg->inflight);
        printf("\n");
        printf("  delivered  %" PRIu64 " (%.0f msg/s)   published %" PRIu64 " (%.0f msg/s)\n",
               st->delivered, deliv_ps, st->published, pub_ps);
        printf("  whole run  published %" PRIu64 ", expected deliveries %" PRIu64
               ", delivered %" PRIu64 ", %s after %.2f s drain\n",
               st->published_all, expected, st->delivered_all,
               complete ? "complete" : "INCOMPLETE", drain_used);
        printf("  lost %" PRIu64 " (%" PRIu64 " gaps)  reordered %" PRIu64 "  duplicates %" PRIu64
               "  bad %" PRIu64 "  dup-flag %" PRIu64 "  qos-mismatch %" PRIu64
               "  retain %" PRIu64 "\n",
               st->lost, st->gap_events, st->reordered, st->duplicates, st->bad, st->dup_flag,
               st->qos_mismatch, st->retain_flag);
        if (st->unsticks)
            printf("  %" PRIu64 " times a publisher gave up waiting (--stall %.1f s) for messages"
                   " its slowest subscriber never got\n", st->unsticks, cfg->stall_s);
        printf("  latency us p50 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64 "  max %" PRIu64
               "  mean %.1f  (%" PRIu64 " samples)\n", p50, p99, p999, b->hist->max_us, mean,
               b->hist->count);
        if (cfg->mode == MODE_THROUGHPUT)
            printf("  publishers held by: lead %.1f %%  inflight %.1f %%  full socket %.1f %%"
                   "  nothing (tool-bound) %.1f %%  of %" PRIu64 " turns\n",
                   pct(st->held_lead, st->pump_turns), pct(st->held_inflight, st->pump_turns),
                   pct(st->held_socket, st->pump_turns), pct(st->held_none, st->pump_turns),
                   st->pump_turns);
        else
            printf("  pacing     max lag %" PRIu64 " us, %" PRIu64 " sends > 1 ms late\n",
                   pace_lag_max / 1000, pace_late_1ms);
        printf("  tool cpu %.1f %% of one core   host busy %.1f %%", res.tool_cpu_pct,
               res.host_busy_pct);
        if (res.server_cpu_pct >= 0)
            printf("   server cpu %.1f %%  rss %ld kB  threads %ld", res.server_cpu_pct,
                   res.server_rss_kb, res.server_threads);
        printf("\n");
        if (b->fatal[0])
            printf("  ERROR: %s\n", b->fatal);
    }
    fflush(stdout);
    if (b->fatal[0] || interrupted)
        return 1;
    return st->delivered ? 0 : 2;
}

static int run_idle(struct bench *b)
{
    const struct config *cfg = b->cfg;
    long rss0 = cfg->pid ? proc_status_kb(cfg->pid, "VmRSS") : -1;
    uint64_t start = now_ns(), deadline = start + (uint64_t)(cfg->setup_timeout_s * 1e9);
    uint64_t cpu0 = cpu_ns();
    int opened = 0;
    bool timed_out = false;

    /* Connect phase: at most --batch handshakes (TCP + CONNECT/CONNACK) in
     * progress, so the broker's listen backlog is never overrun. */
    while (!interrupted) {
        uint64_t now = now_ns();
        int pending = opened - b->connected_ever - b->failed; /* handshaking */
        while (opened < cfg->clients && pending < cfg->batch) {
            conn_open(b, &b->conns[opened++], now);
            pending++;
        }
        if (b->connected_ever + b->failed >= cfg->clients)
            break;
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        poll_once(b, 10 * 1000 * 1000);
    }
    uint64_t t_conn = now_ns();
    double connect_s = (double)(t_conn - start) / 1e9;
    int connected = b->connected_ever;
    int failed_connect = b->failed;

    /* With --pid: settle a second, then read RSS; hold; read it again. */
    long rss_conn = -1;
    uint64_t settle_end = t_conn + (cfg->pid ? NS_PER_S : 0), hold_end = settle_end + (uint64_t)(cfg->hold_s * 1e9);
    uint64_t last_ka = t_conn;
    bool settled = false;
    while (!interrupted) {
        uint64_t now = now_ns();
        if (!settled && now >= settle_end) {
            settled = true;
            rss_conn = cfg->pid ? proc_status_kb(cfg->pid, "VmRSS") : -1;
        }
        if (settled && now >= hold_end)
            break;
        if (now - last_ka >= NS_PER_S) {
            keepalive_scan(b, now);
            last_ka = now;
        }
        uint64_t until = settled ? hold_end : settle_end;
        poll_once(b, until - now < 100000000 ? until - now : 100000000);
    }
    long rss1 = cfg->pid ? proc_status_kb(cfg->pid, "VmRSS") : -1;
    long hwm = cfg->pid ? proc_status_kb(cfg->pid, "VmHWM") : -1;
    long threads = cfg->pid ? proc_status_kb(cfg->pid, "Threads") : -1;
    int still = b->ready;
    int dropped = b->dropped;
    double tool_cpu_s = (double)(cpu_ns() - cpu0) / 1e9;
    disconnect_all(b);

    double per_conn = rss0 >= 0 && rss1 >= 0 && connected > 0
                          ? (double)(rss1 - rss0) * 1024.0 / connected : -1;
    if (cfg->json) {
        printf("{\"mode\":\"idle\",\"target\":\"%s\",\"clients\":%d,\"batch\":%d,"
               "\"keepalive\":%d,\"hold_s\":%.3f,\"connected\":%d,\"failed\":%d,"
               "\"dropped\":%d,\"still_connected\":%d,\"connect_s\":%.3f,"
               "\"connects_per_s\":%.0f,\"timed_out\":%s,\"pings\":%" PRIu64 ",\"pingresps\":%" PRIu64 ","
               "\"rss_before_kb\":%ld,\"rss_connected_kb\":%ld,\"rss_after_kb\":%ld,"
               "\"hwm_kb\":%ld,\"server_threads\":%ld,\"bytes_per_conn\":%.0f,"
               "\"tool_cpu_s\":%.3f,\"error\":\"%s\"}\n",
               cfg->target, cfg->clients, cfg->batch, cfg->keepalive, cfg->hold_s, connected,
               failed_connect, dropped, still, connect_s, connect_s > 0 ? connected / connect_s : 0,
               timed_out ? "true" : "false", b->st.pings, b->st.pingresps, rss0, rss_conn, rss1, hwm, threads,
               per_conn, tool_cpu_s, b->fatal);
    } else {
        printf("idle %s  %d clients (batch %d, keep-alive %d s), hold %.1f s\n", cfg->target,
               cfg->clients, cfg->batch, cfg->keepalive, cfg->hold_s);
        printf("  connected %d in %.2f s (%.0f/s), failed %d%s, dropped while idle %d,"
               " still connected %d\n", connected, connect_s,
               connect_s > 0 ? connected / connect_s : 0, failed_connect,
               timed_out ? " (TIMED OUT)" : "", dropped, still);
        if (b->st.pings)
            printf("  PINGREQ %" PRIu64 ", PINGRESP %" PRIu64 "\n", b->st.pings, b->st.pingresps);
        if (cfg->pid)
            printf("  broker VmRSS  before %ld kB, connected %ld kB, after hold %ld kB"
                   " (HWM %ld kB, %ld threads): %.0f bytes per connection\n",
                   rss0, rss_conn, rss1, hwm, threads, per_conn);
    }
    fflush(stdout);
    if (interrupted)
        return 1;
    return connected == cfg->clients && still == cfg->clients ? 0 : 2;
}

/* ---- main ------------------------------------------------------------------ */

static void raise_nofile(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need) {
        fprintf(stderr, "mqtt_bench: need %d file descriptors, RLIMIT_NOFILE is %llu"
                        " (raise the hard limit: ulimit -Hn)\n", need,
                (unsigned long long)rl.rlim_cur);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    struct config cfg;
    parse_args(argc, argv, &cfg);

    struct bench b = {.cfg = &cfg};
    if (parse_target(cfg.target, &b.dst, &b.dlen) < 0) {
        fprintf(stderr, "mqtt_bench: bad --target %s (want HOST:PORT or [V6]:PORT)\n", cfg.target);
        return 1;
    }
    if (!is_loopback(&b.dst) && !cfg.allow_remote) {
        fprintf(stderr, "mqtt_bench: refusing non-loopback %s (--allow-remote)\n", cfg.target);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    prctl(PR_SET_TIMERSLACK, 1UL); /* fine-grained waits for --rate */

    if (getrandom(&b.nonce, sizeof b.nonce, 0) != sizeof b.nonce) {
        perror("mqtt_bench: getrandom");
        return 1;
    }
    snprintf(b.nonce_hex, sizeof b.nonce_hex, "%08x", b.nonce);
    if (cfg.plain) { /* <topic>/<i>, filter <topic>/+ */
        snprintf(b.tpre, sizeof b.tpre, "%s/", cfg.topic);
        snprintf(b.filter, sizeof b.filter, "%s/+", cfg.topic);
    } else { /* desktops/<desktop id of publisher i>/<topic>, filter desktops/+/<topic> */
        snprintf(b.tpre, sizeof b.tpre, "desktops/mb%s-p", b.nonce_hex);
        snprintf(b.tsuf, sizeof b.tsuf, "/%s", cfg.topic);
        snprintf(b.filter, sizeof b.filter, "desktops/+/%s", cfg.topic);
    }
    b.tpre_len = strlen(b.tpre);
    b.tsuf_len = strlen(b.tsuf);
    b.filter_len = strlen(b.filter);
    b.ep = epoll_create1(EPOLL_CLOEXEC);
    if (b.ep < 0) {
        perror("mqtt_bench: epoll_create1");
        return 1;
    }
    b.hist = xcalloc(1, sizeof *b.hist);

    if (cfg.mode == MODE_IDLE) {
        raise_nofile(cfg.clients + 64);
        b.nconns = cfg.clients;
        b.conns = xcalloc((size_t)b.nconns, sizeof *b.conns);
        for (int i = 0; i < b.nconns; i++) {
            struct conn *c = &b.conns[i];
            c->fd = -1;
            c->role = ROLE_IDLE;
            c->idx = (uint32_t)i;
            c->rcap = 64;
            c->rbuf = xcalloc(1, c->rcap);
        }
        return run_idle(&b);
    }

    raise_nofile(cfg.pubs + cfg.subs + 64);
    b.nconns = cfg.pubs + cfg.subs;
    b.conns = xcalloc((size_t)b.nconns, sizeof *b.conns);
    b.pubs = b.conns;
    b.subs = b.conns + cfg.pubs;
    b.topics = xcalloc((size_t)cfg.pubs, sizeof *b.topics);
    b.topic_len = xcalloc((size_t)cfg.pubs, sizeof *b.topic_len);
    b.min_next = xcalloc((size_t)cfg.pubs, sizeof *b.min_next);
    b.min_dirty = xcalloc((size_t)cfg.pubs, sizeof *b.min_dirty);
    for (int i = 0; i < cfg.pubs; i++) {
        size_t n = b.tpre_len + b.tsuf_len + 12;
        b.topics[i] = xcalloc(1, n);
        b.topic_len[i] = (uint16_t)snprintf(b.topics[i], n, "%s%d%s", b.tpre, i, b.tsuf);
        b.min_dirty[i] = true;
    }
    for (int i = 0; i < b.nconns; i++) {
        struct conn *c = &b.conns[i];
        c->fd = -1;
        bool pub = i < cfg.pubs;
        c->role = pub ? ROLE_PUB : ROLE_SUB;
        c->idx = (uint32_t)(pub ? i : i - cfg.pubs);
        c->rcap = pub ? 4096 : 256 * 1024;
        c->rbuf = xcalloc(1, c->rcap);
        if (pub) {
            c->next_pid = 1;
            c->pid_bits = xcalloc(65536 / 64, sizeof *c->pid_bits);
        } else
            c->streams = xcalloc((size_t)cfg.pubs, sizeof *c->streams);
    }
    b.measure_start = b.measure_end = UINT64_MAX; /* set when sending starts */
    b.stall_ns = (uint64_t)(cfg.stall_s * 1e9);
    return run_fanout(&b);
}
