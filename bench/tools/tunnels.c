/*
 * New tunnels per second (workload 4 of docs/benchmarks.md).
 *
 * Each operation: connect to the proxy, CONNECT host:port, read the proxy's answer head, send one small
 * HTTP/1.1 GET through the tunnel (Connection: close), read the response to end of stream, close.
 * With --direct the CONNECT step is skipped (the same exchange straight with the origin).
 * Blocking sockets, one thread per concurrent client; bounded by a count and by a deadline.
 *
 *   tunnels PROXY_IP PROXY_PORT TARGET_IP TARGET_PORT PATH THREADS COUNT MAX_SECONDS [--direct]
 *
 * Prints one line: "ok=N failed=M seconds=S rate=R first_error=..." (rate = ok / seconds).
 * Loopback only: the caller passes 127.0.0.x addresses.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in proxy_addr, target_addr;
static char connect_req[256], get_req[512];
static int direct_mode;
static long total_count;
static double deadline;
static atomic_long next_op, ok_count, failed_count;
static char first_error[256];
static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what)
{
    atomic_fetch_add(&failed_count, 1);
    pthread_mutex_lock(&error_lock);
    if (first_error[0] == 0)
        snprintf(first_error, sizeof first_error, "%s(%s)", what, errno ? strerror(errno) : "-");
    pthread_mutex_unlock(&error_lock);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads the proxy's answer to CONNECT up to the blank line, byte-exactly (nothing may be over-read). */
static int read_connect_answer(int fd)
{
    char buf[4096];
    size_t n = 0;
    while (n < sizeof buf - 1) {
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, MSG_PEEK);
        if (r <= 0) return -1;
        buf[n + r] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        size_t take = end ? (size_t)(end - buf) + 4 - n : (size_t)r;
        ssize_t got = recv(fd, buf + n, take, 0);
        if (got <= 0) return -1;
        n += (size_t)got;
        buf[n] = 0;
        if (end) return strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 9, "200", 3) == 0 ? 0 : -2;
    }
    return -1;
}

static void one_operation(void)
{
    errno = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { fail("socket"); return; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const struct sockaddr_in *to = direct_mode ? &target_addr : &proxy_addr;
    if (connect(fd, (const struct sockaddr *)to, sizeof *to) != 0) { fail("connect"); close(fd); return; }
    if (!direct_mode) {
        if (write_all(fd, connect_req, strlen(connect_req)) != 0) { fail("send-connect"); close(fd); return; }
        int answer = read_connect_answer(fd);
        if (answer != 0) { fail(answer == -2 ? "connect-refused" : "connect-answer"); close(fd); return; }
    }
    if (write_all(fd, get_req, strlen(get_req)) != 0) { fail("send-get"); close(fd); return; }
    char buf[16384];
    size_t total = 0;
    int status_ok = 0;
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r < 0) { fail("recv"); close(fd); return; }
        if (r == 0) break;
        if (total == 0 && r >= 12) status_ok = strncmp(buf + 9, "200", 3) == 0;
        total += (size_t)r;
    }
    close(fd);
    if (!status_ok || total < 1024) { errno = 0; fail("short-response"); return; }
    atomic_fetch_add(&ok_count, 1);
}

static void *worker(void *arg)
{
    (void)arg;
    while (atomic_fetch_add(&next_op, 1) < total_count && now() < deadline)
        one_operation();
    return NULL;
}

static void parse_addr(struct sockaddr_in *a, const char *ip, const char *port)
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((unsigned short)atoi(port));
    if (inet_pton(AF_INET, ip, &a->sin_addr) != 1) { fprintf(stderr, "bad address %s\n", ip); exit(2); }
    if ((ntohl(a->sin_addr.s_addr) >> 24) != 127) { fprintf(stderr, "loopback only: %s\n", ip); exit(2); }
}

int main(int argc, char **argv)
{
    if (argc < 9) {
        fprintf(stderr, "usage: %s PROXY_IP PROXY_PORT TARGET_IP TARGET_PORT PATH THREADS COUNT MAX_SECONDS [--direct]\n", argv[0]);
        return 2;
    }
    parse_addr(&proxy_addr, argv[1], argv[2]);
    parse_addr(&target_addr, argv[3], argv[4]);
    int threads = atoi(argv[6]);
    total_count = atol(argv[7]);
    double max_seconds = atof(argv[8]);
    direct_mode = argc > 9 && strcmp(argv[9], "--direct") == 0;
    snprintf(connect_req, sizeof connect_req, "CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", argv[3], argv[4], argv[3], argv[4]);
    snprintf(get_req, sizeof get_req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n", argv[5], argv[3], argv[4]);

    double start = now();
    deadline = start + max_seconds;
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    for (int i = 0; i < threads; i++) pthread_create(&ids[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    double seconds = now() - start;
    long ok = atomic_load(&ok_count), failed = atomic_load(&failed_count);
    printf("ok=%ld failed=%ld seconds=%.3f rate=%.1f first_error=%s\n", ok, failed, seconds, ok / seconds,
           first_error[0] ? first_error : "none");
    return 0;
}
