/*
 * stun_flood.c - STUN Binding-request flood load generator (issue 2).
 *
 * Keeps a window of Binding requests in flight over loopback UDP, either as
 * fast as the server answers (--rate 0) or at a fixed offered rate, and
 * counts answered requests per second, latency, losses, and its own CPU.
 *
 * Wire format: RFC 8489 ("Session Traversal Utilities for NAT").
 *   - Message header ............................ RFC 8489 section 5
 *   - Binding method, classes ................... RFC 8489 sections 3, 5
 *   - Attribute TLV layout and padding .......... RFC 8489 section 14
 *   - XOR-MAPPED-ADDRESS ........................ RFC 8489 section 14.2
 *   - FINGERPRINT ............................... RFC 8489 section 14.7
 *
 * Transaction ids (RFC 8489 section 5 requires them to be unique and
 * random enough) carry the generator's own bookkeeping so a response can be
 * matched to its request without a hash table:
 *     bytes 0..3   run nonce (random per run; responses with another nonce
 *                  are "bad")
 *     bytes 4..7   window slot index (big endian)
 *     bytes 8..11  request sequence number (big endian, unique per run)
 *
 * Design: one thread, K connected non-blocking UDP sockets (K source
 * ports), sendmmsg/recvmmsg in batches, ppoll for readiness. Nothing is
 * pinned. Linux only; no dependencies beyond libc.
 *
 * Build: cc -O2 -Wall -Wextra -o stun_flood stun_flood.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- RFC 8489 constants ------------------------------------------------ */

#define STUN_HEADER_LEN 20            /* section 5 */
#define STUN_MAGIC_COOKIE 0x2112A442u /* section 5 */
#define STUN_TXID_LEN 12              /* section 5: 96 bits */

/* Message type = method bits interleaved with class bits C1,C0 (section 5).
 * Binding is method 0x001 (section 18.2). */
#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_BINDING_ERROR 0x0111

#define STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020 /* section 14.2 */
#define STUN_ATTR_FINGERPRINT 0x8028        /* section 14.7 */
#define STUN_FINGERPRINT_XOR 0x5354554Eu    /* section 14.7: "STUN" */

#define STUN_FAMILY_IPV4 0x01 /* section 14.1 */
#define STUN_FAMILY_IPV6 0x02

/* A request is the header plus, optionally, FINGERPRINT (4 + 4 bytes). */
#define REQ_MAX_LEN (STUN_HEADER_LEN + 8)
#define RESP_BUF_LEN 1500

#define MAX_BATCH 256
#define MAX_SOCKETS 64
#define NS_PER_S 1000000000ull

/* ---- configuration ------------------------------------------------------ */

struct config {
    const char *target;
    double duration_s;
    double warmup_s;
    uint32_t inflight;
    double rate;        /* requests/s; 0 = saturate */
    int sockets;
    int batch;
    double timeout_s;   /* outstanding longer than this = lost */
    double drain_s;     /* wait after the run for the last answers */
    bool fingerprint;
    bool json;
    bool allow_remote;
};

static void usage(FILE *out)
{
    fprintf(out,
        "usage: stun_flood --target HOST:PORT [options]\n"
        "  --target HOST:PORT   server, e.g. 127.0.0.1:3478 or [::1]:3478\n"
        "  --duration S         measured seconds (default 10)\n"
        "  --warmup S           unmeasured seconds before (default 0)\n"
        "  --inflight N         window of outstanding requests (default 256)\n"
        "  --rate R             fixed offered rate req/s; 0 = saturate (default 0)\n"
        "  --sockets K          source sockets / ports (default 4)\n"
        "  --batch B            sendmmsg/recvmmsg batch (default 32, max %d)\n"
        "  --timeout S          a request outstanding this long is lost (default 1)\n"
        "  --drain S            wait for late answers after the run (default 1)\n"
        "  --fingerprint        add FINGERPRINT (RFC 8489 section 14.7) to requests\n"
        "  --json               print one JSON object instead of text\n"
        "  --allow-remote       allow a non-loopback target (off: loopback only)\n"
        "exit status: 0 ok, 1 usage or setup error, 2 no request answered\n",
        MAX_BATCH);
}

static double parse_double(const char *opt, const char *s, double min)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || v < min) {
        fprintf(stderr, "stun_flood: bad value for %s: %s\n", opt, s);
        exit(1);
    }
    return v;
}

static void parse_args(int argc, char **argv, struct config *c)
{
    static const struct option opts[] = {
        {"target", required_argument, 0, 't'},
        {"duration", required_argument, 0, 'd'},
        {"warmup", required_argument, 0, 'w'},
        {"inflight", required_argument, 0, 'n'},
        {"rate", required_argument, 0, 'r'},
        {"sockets", required_argument, 0, 'k'},
        {"batch", required_argument, 0, 'b'},
        {"timeout", required_argument, 0, 'T'},
        {"drain", required_argument, 0, 'D'},
        {"fingerprint", no_argument, 0, 'f'},
        {"json", no_argument, 0, 'j'},
        {"allow-remote", no_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *c = (struct config){
        .duration_s = 10, .inflight = 256, .sockets = 4, .batch = 32,
        .timeout_s = 1, .drain_s = 1,
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 't': c->target = optarg; break;
        case 'd': c->duration_s = parse_double("--duration", optarg, 0.001); break;
        case 'w': c->warmup_s = parse_double("--warmup", optarg, 0); break;
        case 'n': c->inflight = (uint32_t)parse_double("--inflight", optarg, 1); break;
        case 'r': c->rate = parse_double("--rate", optarg, 0); break;
        case 'k': c->sockets = (int)parse_double("--sockets", optarg, 1); break;
        case 'b': c->batch = (int)parse_double("--batch", optarg, 1); break;
        case 'T': c->timeout_s = parse_double("--timeout", optarg, 0.001); break;
        case 'D': c->drain_s = parse_double("--drain", optarg, 0); break;
        case 'f': c->fingerprint = true; break;
        case 'j': c->json = true; break;
        case 'R': c->allow_remote = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(1);
        }
    }
    if (!c->target || optind != argc) {
        usage(stderr);
        exit(1);
    }
    if (c->sockets > MAX_SOCKETS || c->batch > MAX_BATCH || c->inflight > (1u << 24)) {
        fprintf(stderr, "stun_flood: --sockets <= %d, --batch <= %d, --inflight <= %u\n",
                MAX_SOCKETS, MAX_BATCH, 1u << 24);
        exit(1);
    }
}

/* "127.0.0.1:3478" or "[::1]:3478" -> sockaddr. Numeric only: no DNS. */
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
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
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

/* ---- small helpers ------------------------------------------------------ */

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
static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* CRC-32 (ISO HDLC / ITU-T V.42, reflected 0xEDB88320), as RFC 8489
 * section 14.7 requires for FINGERPRINT. */
static uint32_t crc_table[256];

static void crc32_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* ---- latency histogram -------------------------------------------------- */

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

/* ---- generator state ---------------------------------------------------- */

struct slot {
    uint64_t sent_ns;
    uint32_t seq;
    uint16_t sock;
    bool busy;
};

struct stats {
    uint64_t sent, answered, answered_in_window, lost_timeout, lost_drain,
        late, duplicates, bad, error_responses, icmp_errors, send_eagain;
};

struct gen {
    const struct config *cfg;
    int fds[MAX_SOCKETS];
    struct sockaddr_storage local[MAX_SOCKETS]; /* each socket's own address */
    uint8_t nonce[4];

    struct slot *slots;
    uint32_t *free_stack; /* indices of idle slots */
    uint32_t free_top;
    uint32_t outstanding;

    uint32_t next_seq;
    uint32_t first_measured_seq; /* requests below this are warm-up */
    uint64_t *answered_bits;     /* one bit per sequence number */
    size_t answered_words;

    uint64_t timeout_ns;
    uint64_t window_end_ns;      /* end of the measured sending phase */
    struct stats st;
    struct histogram *hist;
};

static void mark_answered(struct gen *g, uint32_t seq)
{
    size_t w = seq / 64;
    if (w >= g->answered_words) {
        size_t n = g->answered_words ? g->answered_words : 4096;
        while (n <= w)
            n *= 2;
        uint64_t *b = realloc(g->answered_bits, n * sizeof *b);
        if (!b) {
            perror("stun_flood: realloc");
            exit(1);
        }
        memset(b + g->answered_words, 0, (n - g->answered_words) * sizeof *b);
        g->answered_bits = b;
        g->answered_words = n;
    }
    g->answered_bits[w] |= 1ull << (seq % 64);
}

static bool was_answered(const struct gen *g, uint32_t seq)
{
    size_t w = seq / 64;
    return w < g->answered_words && (g->answered_bits[w] >> (seq % 64) & 1);
}

static void free_slot(struct gen *g, uint32_t idx)
{
    g->slots[idx].busy = false;
    g->free_stack[g->free_top++] = idx;
    g->outstanding--;
}

/* Builds a Binding request (RFC 8489 section 5 header, optional
 * FINGERPRINT per section 14.7) into buf; returns its length. */
static size_t build_request(const struct gen *g, uint8_t *buf, uint32_t slot, uint32_t seq)
{
    bool fp = g->cfg->fingerprint;
    /* Header: 2 zero bits + 14-bit type, 16-bit length (excluding the
     * 20-byte header), magic cookie, 96-bit transaction id. */
    put16(buf, STUN_BINDING_REQUEST);
    put16(buf + 2, fp ? 8 : 0);
    put32(buf + 4, STUN_MAGIC_COOKIE);
    memcpy(buf + 8, g->nonce, 4);
    put32(buf + 12, slot);
    put32(buf + 16, seq);
    if (!fp)
        return STUN_HEADER_LEN;
    /* FINGERPRINT: CRC-32 of the message up to (not including) this
     * attribute, with the header length already counting it, XOR 0x5354554E. */
    put16(buf + 20, STUN_ATTR_FINGERPRINT);
    put16(buf + 22, 4);
    put32(buf + 24, crc32(buf, STUN_HEADER_LEN) ^ STUN_FINGERPRINT_XOR);
    return STUN_HEADER_LEN + 8;
}

/* Decodes XOR-MAPPED-ADDRESS (RFC 8489 section 14.2) and compares it with
 * the receiving socket's own address. value/len is the attribute value. */
static bool xor_mapped_matches(const uint8_t *msg, const uint8_t *value, uint16_t len,
                               const struct sockaddr_storage *local)
{
    if (len < 4)
        return false;
    uint8_t family = value[1];
    /* X-Port is the port XORed with the 16 most significant cookie bits. */
    uint16_t port = get16(value + 2) ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16);
    if (family == STUN_FAMILY_IPV4) {
        if (len != 8 || local->ss_family != AF_INET)
            return false;
        const struct sockaddr_in *a = (const struct sockaddr_in *)local;
        /* X-Address (IPv4) is the address XORed with the magic cookie. */
        uint32_t addr = get32(value + 4) ^ STUN_MAGIC_COOKIE;
        return port == ntohs(a->sin_port) && addr == ntohl(a->sin_addr.s_addr);
    }
    if (family == STUN_FAMILY_IPV6) {
        if (len != 20 || local->ss_family != AF_INET6)
            return false;
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)local;
        /* X-Address (IPv6) is the address XORed with cookie || txid, i.e.
         * with header bytes 4..19. */
        for (int i = 0; i < 16; i++)
            if ((uint8_t)(value[4 + i] ^ msg[4 + i]) != a->sin6_addr.s6_addr[i])
                return false;
        return port == ntohs(a->sin6_port);
    }
    return false;
}

/* Validates one response received on socket `sock` and updates the books. */
static void handle_response(struct gen *g, const uint8_t *msg, size_t n, int sock, uint64_t now)
{
    /* Header checks, RFC 8489 section 5: top two bits zero, length a
     * multiple of 4 that matches the datagram, magic cookie. */
    if (n < STUN_HEADER_LEN || (msg[0] & 0xC0) || get16(msg + 2) != n - STUN_HEADER_LEN ||
        (n & 3) || get32(msg + 4) != STUN_MAGIC_COOKIE || memcmp(msg + 8, g->nonce, 4) != 0) {
        g->st.bad++;
        return;
    }
    uint16_t type = get16(msg);
    if (type == STUN_BINDING_ERROR) {
        g->st.error_responses++;
        return;
    }
    if (type != STUN_BINDING_SUCCESS) {
        g->st.bad++;
        return;
    }
    uint32_t idx = get32(msg + 12), seq = get32(msg + 16);
    if (idx >= g->cfg->inflight || seq >= g->next_seq) {
        g->st.bad++;
        return;
    }

    /* Attributes, RFC 8489 section 14: 16-bit type, 16-bit value length,
     * value padded to a multiple of 4 bytes. FINGERPRINT must be last. */
    bool mapped_ok = false, seen_mapped = false;
    size_t off = STUN_HEADER_LEN;
    while (off + 4 <= n) {
        uint16_t at = get16(msg + off), alen = get16(msg + off + 2);
        size_t padded = ((size_t)alen + 3) & ~(size_t)3;
        if (off + 4 + padded > n) {
            g->st.bad++;
            return;
        }
        const uint8_t *v = msg + off + 4;
        if (at == STUN_ATTR_XOR_MAPPED_ADDRESS && !seen_mapped) {
            seen_mapped = true; /* section 14: only the first of a type counts */
            mapped_ok = xor_mapped_matches(msg, v, alen, &g->local[sock]);
        } else if (at == STUN_ATTR_FINGERPRINT) {
            if (alen != 4 || off + 8 != n ||
                get32(v) != (crc32(msg, off) ^ STUN_FINGERPRINT_XOR)) {
                g->st.bad++;
                return;
            }
        }
        off += 4 + padded;
    }
    if (!mapped_ok) {
        g->st.bad++;
        return;
    }

    /* Match to the request. */
    if (was_answered(g, seq)) {
        g->st.duplicates++;
        return;
    }
    struct slot *s = &g->slots[idx];
    bool current = s->busy && s->seq == seq;
    if (current && s->sock != sock) {
        g->st.bad++; /* answered to another source port */
        return;
    }
    mark_answered(g, seq);
    if (!current) {
        /* Counted lost at its timeout; the slot has moved on. */
        if (seq >= g->first_measured_seq)
            g->st.late++;
        return;
    }
    if (seq >= g->first_measured_seq) {
        g->st.answered++;
        if (now <= g->window_end_ns)
            g->st.answered_in_window++;
        hist_add(g->hist, (now - s->sent_ns) / 1000);
    }
    free_slot(g, idx);
}

/* Requests outstanding longer than the timeout are lost; reuse their slots. */
static void expire(struct gen *g, uint64_t now, bool final)
{
    for (uint32_t i = 0; i < g->cfg->inflight; i++) {
        struct slot *s = &g->slots[i];
        if (!s->busy || (!final && now - s->sent_ns < g->timeout_ns))
            continue;
        if (s->seq >= g->first_measured_seq) {
            if (final)
                g->st.lost_drain++;
            else
                g->st.lost_timeout++;
        }
        free_slot(g, i);
    }
}

/* Sends up to `want` requests in one sendmmsg on socket `sock`.
 * Returns the number actually sent. */
static int send_batch(struct gen *g, int sock, int want, uint64_t now)
{
    static uint8_t bufs[MAX_BATCH][REQ_MAX_LEN];
    static struct iovec iov[MAX_BATCH];
    static struct mmsghdr msgs[MAX_BATCH];
    uint32_t idxs[MAX_BATCH];

    if (want > (int)g->free_top)
        want = (int)g->free_top;
    if (want > g->cfg->batch)
        want = g->cfg->batch;
    if (want <= 0 || g->next_seq > UINT32_MAX - (uint32_t)want)
        return 0;

    uint32_t seq0 = g->next_seq;
    for (int i = 0; i < want; i++) {
        idxs[i] = g->free_stack[g->free_top - 1 - (uint32_t)i];
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = build_request(g, bufs[i], idxs[i], seq0 + (uint32_t)i);
        msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
    int sent = sendmmsg(g->fds[sock], msgs, (unsigned)want, MSG_DONTWAIT);
    if (sent < 0) {
        if (errno == ECONNREFUSED)
            g->st.icmp_errors++;
        else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            g->st.send_eagain++;
        else {
            perror("stun_flood: sendmmsg");
            exit(1);
        }
        sent = 0;
    }
    for (int i = 0; i < sent; i++) {
        struct slot *s = &g->slots[idxs[i]];
        s->busy = true;
        s->seq = seq0 + (uint32_t)i;
        s->sent_ns = now;
        s->sock = (uint16_t)sock;
    }
    g->free_top -= (uint32_t)sent;
    g->outstanding += (uint32_t)sent;
    g->next_seq = seq0 + (uint32_t)sent; /* an unsent suffix reuses its seqs */
    if (seq0 + (uint32_t)sent > g->first_measured_seq) {
        uint32_t measured_from = seq0 > g->first_measured_seq ? seq0 : g->first_measured_seq;
        g->st.sent += seq0 + (uint32_t)sent - measured_from;
    }
    return sent;
}

/* Drains one readable socket with recvmmsg. */
static void receive_all(struct gen *g, int sock)
{
    static uint8_t bufs[MAX_BATCH][RESP_BUF_LEN];
    static struct iovec iov[MAX_BATCH];
    static struct mmsghdr msgs[MAX_BATCH];
    int b = g->cfg->batch;
    for (;;) {
        for (int i = 0; i < b; i++) {
            iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = RESP_BUF_LEN};
            msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
        }
        int n = recvmmsg(g->fds[sock], msgs, (unsigned)b, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == ECONNREFUSED) {
                g->st.icmp_errors++;
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            perror("stun_flood: recvmmsg");
            exit(1);
        }
        uint64_t now = now_ns();
        for (int i = 0; i < n; i++) {
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
                g->st.bad++;
            else
                handle_response(g, bufs[i], msgs[i].msg_len, sock, now);
        }
        if (n < b)
            return;
    }
}

static void open_sockets(struct gen *g, const struct sockaddr_storage *dst, socklen_t dlen)
{
    for (int i = 0; i < g->cfg->sockets; i++) {
        int fd = socket(dst->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            perror("stun_flood: socket");
            exit(1);
        }
        /* Room for every in-flight answer, so losses are the server's. */
        int rcv = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
        /* connect() binds an ephemeral port, filters foreign senders and
         * lets sendmmsg go without per-message addresses. */
        if (connect(fd, (const struct sockaddr *)dst, dlen) < 0) {
            perror("stun_flood: connect");
            exit(1);
        }
        socklen_t l = sizeof g->local[i];
        if (getsockname(fd, (struct sockaddr *)&g->local[i], &l) < 0) {
            perror("stun_flood: getsockname");
            exit(1);
        }
        g->fds[i] = fd;
    }
}

/* ---- main loop ---------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct config cfg;
    parse_args(argc, argv, &cfg);

    struct sockaddr_storage dst;
    socklen_t dlen;
    if (parse_target(cfg.target, &dst, &dlen) < 0) {
        fprintf(stderr, "stun_flood: bad --target %s (want HOST:PORT or [V6]:PORT)\n", cfg.target);
        return 1;
    }
    if (!is_loopback(&dst) && !cfg.allow_remote) {
        fprintf(stderr, "stun_flood: refusing to flood non-loopback %s (--allow-remote)\n", cfg.target);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL); /* fine-grained ppoll for --rate */
    crc32_init();

    struct gen g = {.cfg = &cfg};
    g.timeout_ns = (uint64_t)(cfg.timeout_s * 1e9);
    g.slots = calloc(cfg.inflight, sizeof *g.slots);
    g.free_stack = malloc(cfg.inflight * sizeof *g.free_stack);
    g.hist = calloc(1, sizeof *g.hist);
    if (!g.slots || !g.free_stack || !g.hist) {
        perror("stun_flood: alloc");
        return 1;
    }
    for (uint32_t i = 0; i < cfg.inflight; i++)
        g.free_stack[g.free_top++] = cfg.inflight - 1 - i;
    g.outstanding = 0;
    if (getrandom(g.nonce, sizeof g.nonce, 0) != sizeof g.nonce) {
        perror("stun_flood: getrandom");
        return 1;
    }
    open_sockets(&g, &dst, dlen);

    struct pollfd pfds[MAX_SOCKETS];
    for (int i = 0; i < cfg.sockets; i++)
        pfds[i] = (struct pollfd){.fd = g.fds[i], .events = POLLIN};

    const uint64_t start = now_ns();
    const uint64_t measure_start = start + (uint64_t)(cfg.warmup_s * 1e9);
    g.window_end_ns = measure_start + (uint64_t)(cfg.duration_s * 1e9);
    const uint64_t drain_ns = (uint64_t)(cfg.drain_s * 1e9);
    bool measuring = cfg.warmup_s == 0;
    if (!measuring)
        g.first_measured_seq = UINT32_MAX; /* nothing counts until warm-up ends */
    uint64_t cpu0 = cpu_ns(), wall0 = start, blocked_ns = 0;

    /* Token bucket for --rate. Requests leave in quanta of about 100 us
     * worth (1 .. batch requests) so pacing costs few syscalls; credit is
     * capped at 1 ms worth (at least a batch) so a stall of the generator
     * is caught up without turning into a long burst. */
    double tokens = 0;
    double quantum = cfg.rate * 100e-6;
    quantum = quantum < 1 ? 1 : quantum > cfg.batch ? cfg.batch : (double)(int)quantum;
    double credit_cap = cfg.rate * 1e-3 > cfg.batch ? cfg.rate * 1e-3 : cfg.batch;
    uint64_t last_refill = start, last_expire = start, drain_deadline = 0;
    int next_sock = 0;

    for (;;) {
        uint64_t now = now_ns();
        if (!measuring && now >= measure_start) {
            measuring = true;
            g.first_measured_seq = g.next_seq;
            memset(&g.st, 0, sizeof g.st);
            cpu0 = cpu_ns();
            wall0 = now;
            blocked_ns = 0;
        }
        bool sending = now < g.window_end_ns;
        if (!sending && drain_deadline == 0)
            drain_deadline = now + drain_ns;
        if (!sending && (g.outstanding == 0 || now >= drain_deadline))
            break;

        if (now - last_expire >= 10 * 1000 * 1000) {
            expire(&g, now, false);
            last_expire = now;
        }

        /* Send while the window and the rate allow. */
        uint64_t wait_ns = 10 * 1000 * 1000; /* re-check timeouts every 10 ms */
        bool sent_any = false;
        if (sending) {
            if (cfg.rate > 0) {
                tokens += (double)(now - last_refill) * cfg.rate / 1e9;
                if (tokens > credit_cap)
                    tokens = credit_cap;
                last_refill = now;
            }
            while (g.free_top > 0) {
                int want = cfg.batch;
                if (cfg.rate > 0) {
                    if (tokens < quantum)
                        break;
                    want = (int)tokens < want ? (int)tokens : want;
                }
                int n = send_batch(&g, next_sock, want, now);
                next_sock = (next_sock + 1) % cfg.sockets;
                if (n == 0)
                    break;
                sent_any = true;
                tokens -= n;
            }
            if (cfg.rate > 0 && g.free_top > 0 && tokens < quantum) {
                uint64_t until_token = (uint64_t)((quantum - tokens) * 1e9 / cfg.rate);
                if (until_token < wait_ns)
                    wait_ns = until_token;
            }
            if (g.window_end_ns - now < wait_ns)
                wait_ns = g.window_end_ns - now;
        } else if (drain_deadline - now < wait_ns) {
            wait_ns = drain_deadline - now;
        }

        /* Wait for answers; don't block if more can be sent right now. */
        if (sent_any && g.free_top > 0 && cfg.rate == 0)
            wait_ns = 0;
        struct timespec ts = {.tv_sec = (time_t)(wait_ns / NS_PER_S),
                              .tv_nsec = (long)(wait_ns % NS_PER_S)};
        uint64_t t_poll = wait_ns ? now_ns() : 0;
        int ready = ppoll(pfds, (nfds_t)cfg.sockets, &ts, NULL);
        if (wait_ns)
            blocked_ns += now_ns() - t_poll;
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            perror("stun_flood: ppoll");
            return 1;
        }
        for (int i = 0; ready > 0 && i < cfg.sockets; i++) {
            if (pfds[i].revents) {
                receive_all(&g, i);
                ready--;
            }
        }
    }
    expire(&g, now_ns(), true); /* whatever is still out after the drain */

    uint64_t wall = now_ns() - wall0, cpu = cpu_ns() - cpu0;
    double measured_s = (double)(g.window_end_ns - measure_start) / 1e9;
    const struct stats *st = &g.st;
    uint64_t lost = st->lost_timeout + st->lost_drain;
    double rps = (double)st->answered_in_window / measured_s;
    double cpu_pct = 100.0 * (double)cpu / (double)wall;
    double blocked_pct = 100.0 * (double)blocked_ns / (double)wall;
    uint64_t p50 = hist_quantile(g.hist, 0.50), p99 = hist_quantile(g.hist, 0.99),
             p999 = hist_quantile(g.hist, 0.999);
    double mean = g.hist->count ? (double)g.hist->sum_us / (double)g.hist->count : 0;

    if (cfg.json) {
        printf("{\"target\":\"%s\",\"duration_s\":%.3f,\"warmup_s\":%.3f,\"inflight\":%u,"
               "\"sockets\":%d,\"batch\":%d,\"rate_offered\":%.0f,\"fingerprint\":%s,"
               "\"sent\":%" PRIu64 ",\"answered\":%" PRIu64 ",\"answered_per_s\":%.0f,"
               "\"sent_per_s\":%.0f,\"lost\":%" PRIu64 ",\"lost_timeout\":%" PRIu64
               ",\"lost_drain\":%" PRIu64 ",\"late\":%" PRIu64 ",\"duplicates\":%" PRIu64
               ",\"bad\":%" PRIu64 ",\"error_responses\":%" PRIu64 ",\"icmp_errors\":%" PRIu64
               ",\"send_eagain\":%" PRIu64 ",\"p50_us\":%" PRIu64 ",\"p99_us\":%" PRIu64
               ",\"p999_us\":%" PRIu64 ",\"max_us\":%" PRIu64 ",\"mean_us\":%.1f,"
               "\"gen_cpu_pct\":%.1f,\"gen_blocked_pct\":%.1f,\"wall_s\":%.3f}\n",
               cfg.target, measured_s, cfg.warmup_s, cfg.inflight, cfg.sockets, cfg.batch,
               cfg.rate, cfg.fingerprint ? "true" : "false", st->sent, st->answered, rps,
               (double)st->sent / measured_s, lost, st->lost_timeout, st->lost_drain, st->late,
               st->duplicates, st->bad, st->error_responses, st->icmp_errors, st->send_eagain,
               p50, p99, p999, g.hist->max_us, mean, cpu_pct, blocked_pct, (double)wall / 1e9);
    } else {
        printf("target %s  %.1f s  inflight %u  sockets %d  batch %d  rate %s\n", cfg.target,
               measured_s, cfg.inflight, cfg.sockets, cfg.batch,
               cfg.rate > 0 ? "fixed" : "saturate");
        printf("  answered   %" PRIu64 " (%.0f req/s)   sent %" PRIu64 " (%.0f req/s)\n",
               st->answered, rps, st->sent, (double)st->sent / measured_s);
        printf("  lost       %" PRIu64 " (timeout %" PRIu64 ", after drain %" PRIu64
               ")  late %" PRIu64 "  duplicates %" PRIu64 "  bad %" PRIu64
               "  error responses %" PRIu64 "  icmp %" PRIu64 "\n",
               lost, st->lost_timeout, st->lost_drain, st->late, st->duplicates, st->bad,
               st->error_responses, st->icmp_errors);
        printf("  latency us p50 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64 "  max %" PRIu64
               "  mean %.1f\n", p50, p99, p999, g.hist->max_us, mean);
        printf("  generator  cpu %.1f %% of one core, blocked waiting %.1f %% of wall\n",
               cpu_pct, blocked_pct);
    }
    return st->answered > 0 ? 0 : 2;
}
