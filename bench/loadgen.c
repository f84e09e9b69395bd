/*
 * loadgen: a small, strictly bounded HTTP/1.1 load generator for bench/run.js.
 *
 * Keeps a fixed number of connections in flight (epoll, one thread). Every
 * connection binds its source address from a list of loopback addresses, sends
 * --requests GETs one after the other (keep-alive; the last with "Connection:
 * close"; optionally with an X-Forwarded-For value from a list), reads each
 * whole response, parses the status and the "w=<n>" body the bench apps
 * answer, and records the latency from connect() (later requests: from their
 * send) to the complete response. Prints one JSON object on stdout, with the
 * CPU time this process used.
 *
 * The measured window is --duration-ms long and starts at --start-at-ms (wall
 * clock, ms since the epoch) or at once; load runs from the start, so the time
 * before the window is the warm-up. Only responses completed in the window
 * count, so several generators given the same window add up.
 *
 * Identities: the source address (default) or the X-Forwarded-For value
 * (--xff N); an identity answered by two different workers is a stickiness
 * violation.
 *
 * Build: cc -O2 -o loadgen loadgen.c
 * Usage: loadgen --port P [--host 127.0.0.1] [--concurrency 32]
 *                [--duration-ms 5000 | --count N] [--sources 256]
 *                [--source-base 127.0.1.1] [--xff 0] [--xff-offset 0]
 *                [--requests 1] [--start-at-ms T] [--timeout-ms 10000]
 *                [--max-ms 120000]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_WORKERS 64
#define RESP_CAP 16384
#define MAX_CONCURRENCY 4096
#define MAX_IDENTITIES 65536
#define LATENCY_CAP (4u * 1024u * 1024u)
#define MAX_STATUS 600

enum state { IDLE = 0, CONNECTING, SENDING, READING };

struct slot {
  int fd;
  enum state st;
  uint64_t started_ns; /* connect(), then each later request's send */
  uint32_t requests_done;
  uint32_t identity;
  uint32_t src;
  uint32_t xff;
  size_t sent;
  size_t req_len;
  char req[512];
  size_t len;   /* bytes kept in resp (at most RESP_CAP) */
  size_t total; /* bytes received */
  char resp[RESP_CAP];
};

/* options */
static const char *opt_host = "127.0.0.1";
static int opt_port = 0;
static int opt_conc = 32;
static long opt_duration_ms = 0;
static long opt_count = 0;
static int opt_sources = 256;
static const char *opt_source_base = "127.0.1.1";
static int opt_xff = 0;
static long opt_xff_offset = 0;
static long opt_requests = 1;
static long long opt_start_at_ms = 0;
static long opt_timeout_ms = 10000;
static long opt_max_ms = 120000;

/* results */
static uint64_t n_started, n_started_window, n_done, n_ok, n_ok_window;
/* The measured window, CLOCK_MONOTONIC ns. */
static uint64_t win_start, win_end;
static uint64_t e_connect, e_reset, e_eof, e_timeout, e_bad_body, e_status_total;
static uint64_t status_counts[MAX_STATUS];
static char first_error[256];
static uint64_t worker_counts[MAX_WORKERS];
static int max_worker_seen = -1;
static uint64_t *seen_mask; /* per identity: bit per worker */
static uint32_t *latencies;
static size_t n_lat;

static struct in_addr src_base;
static struct sockaddr_in dst;
static int epfd;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void note_error(const char *fmt, const char *detail) {
  if (first_error[0]) return;
  snprintf(first_error, sizeof first_error, fmt, detail);
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen --port P [--host 127.0.0.1] [--concurrency 32] [--duration-ms MS | --count N]\n"
          "               [--sources 256] [--source-base 127.0.1.1] [--xff N] [--xff-offset 0] [--requests 1]\n"
          "               [--start-at-ms T] [--timeout-ms 10000] [--max-ms 120000]\n");
  exit(2);
}

static long num_arg(const char *name, const char *value, long min, long max) {
  char *end;
  errno = 0;
  long v = strtol(value, &end, 10);
  if (errno || *end || v < min || v > max) {
    fprintf(stderr, "loadgen: %s must be an integer from %ld to %ld\n", name, min, max);
    exit(2);
  }
  return v;
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) opt_host = v;
    else if (!strcmp(a, "--port")) opt_port = (int)num_arg(a, v, 1, 65535);
    else if (!strcmp(a, "--concurrency")) opt_conc = (int)num_arg(a, v, 1, MAX_CONCURRENCY);
    else if (!strcmp(a, "--duration-ms")) opt_duration_ms = num_arg(a, v, 1, 3600000);
    else if (!strcmp(a, "--count")) opt_count = num_arg(a, v, 1, 100000000);
    else if (!strcmp(a, "--sources")) opt_sources = (int)num_arg(a, v, 1, MAX_IDENTITIES);
    else if (!strcmp(a, "--source-base")) opt_source_base = v;
    else if (!strcmp(a, "--xff")) opt_xff = (int)num_arg(a, v, 0, MAX_IDENTITIES);
    else if (!strcmp(a, "--xff-offset")) opt_xff_offset = num_arg(a, v, 0, 131072 - MAX_IDENTITIES);
    else if (!strcmp(a, "--requests")) opt_requests = num_arg(a, v, 1, 1000000);
    else if (!strcmp(a, "--start-at-ms")) opt_start_at_ms = num_arg(a, v, 1, 0x7fffffffffffffffL);
    else if (!strcmp(a, "--timeout-ms")) opt_timeout_ms = num_arg(a, v, 1, 600000);
    else if (!strcmp(a, "--max-ms")) opt_max_ms = num_arg(a, v, 1, 3600000);
    else usage();
  }
  if (!opt_port) usage();
  if (!opt_duration_ms && !opt_count) opt_duration_ms = 5000;
  if (inet_pton(AF_INET, opt_source_base, &src_base) != 1) {
    fprintf(stderr, "loadgen: --source-base must be an IPv4 address\n");
    exit(2);
  }
  uint32_t first = ntohl(src_base.s_addr);
  uint32_t last = first + (uint32_t)opt_sources - 1;
  if ((first >> 24) != 127 || (last >> 24) != 127) {
    fprintf(stderr, "loadgen: source addresses must stay in 127.0.0.0/8\n");
    exit(2);
  }
  memset(&dst, 0, sizeof dst);
  dst.sin_family = AF_INET;
  dst.sin_port = htons((uint16_t)opt_port);
  if (inet_pton(AF_INET, opt_host, &dst.sin_addr) != 1 || (ntohl(dst.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "loadgen: --host must be an IPv4 address in 127.0.0.0/8\n");
    exit(2);
  }
}

static void close_slot(struct slot *s) {
  if (s->fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
    close(s->fd);
  }
  s->fd = -1;
  s->st = IDLE;
}

/* Distinct X-Forwarded-For values in 198.18.0.0/15 (the benchmarking range). */
static void xff_text(uint32_t i, char *out, size_t cap) {
  snprintf(out, cap, "198.%u.%u.%u", 18 + (i >> 16), (i >> 8) & 255, i & 255);
}

/* The slot's next request: keep-alive, except the connection's last. */
static void build_request(struct slot *s) {
  s->len = s->total = s->sent = 0;
  char xff_line[64] = "";
  if (opt_xff) {
    char text[32];
    xff_text((uint32_t)opt_xff_offset + s->xff, text, sizeof text);
    snprintf(xff_line, sizeof xff_line, "X-Forwarded-For: %s\r\n", text);
  }
  const int last = s->requests_done + 1 >= (uint32_t)opt_requests;
  int n = snprintf(s->req, sizeof s->req,
                   "GET / HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: sticky-native-bench\r\nAccept: */*\r\n%s%s\r\n",
                   opt_host, opt_port, xff_line, last ? "Connection: close\r\n" : "");
  s->req_len = (size_t)n;
}

static int start_slot(struct slot *s, uint64_t seq, uint64_t now) {
  s->src = (uint32_t)(seq % (uint64_t)opt_sources);
  s->xff = opt_xff ? (uint32_t)(seq % (uint64_t)opt_xff) : 0;
  s->identity = opt_xff ? s->xff : s->src;
  s->requests_done = 0;
  s->started_ns = now;
  build_request(s);

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    e_connect++;
    note_error("socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in src;
  memset(&src, 0, sizeof src);
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(ntohl(src_base.s_addr) + s->src);
  if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
    e_connect++;
    note_error("bind: %s", strerror(errno));
    close(fd);
    return -1;
  }
  s->fd = fd;
  struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = s };
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
    e_connect++;
    note_error("connect: %s", strerror(errno));
    close(fd);
    s->fd = -1;
    return -1;
  }
  s->st = CONNECTING;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    e_connect++;
    note_error("epoll_ctl: %s", strerror(errno));
    close(fd);
    s->fd = -1;
    s->st = IDLE;
    return -1;
  }
  return 0;
}

static const char *find_crlfcrlf(const char *p, size_t n) {
  if (n < 4) return NULL;
  for (size_t i = 0; i + 3 < n; i++)
    if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') return p + i;
  return NULL;
}

/* Case-insensitive search for a header line "name:" within [p, p+n); returns the value start or NULL. */
static const char *header_value(const char *p, size_t n, const char *name) {
  size_t k = strlen(name);
  for (size_t i = 0; i + k < n; i++) {
    if ((i == 0 || p[i - 1] == '\n') && !strncasecmp(p + i, name, k) && p[i + k] == ':') return p + i + k + 1;
  }
  return NULL;
}

/*
 * Returns 1 when the response in s->resp is complete (or eof says it ends here),
 * 0 when more is needed. Fills *status and *body and *body_len when complete.
 */
static int response_complete(struct slot *s, int eof, int *status, const char **body, size_t *body_len) {
  const char *end = find_crlfcrlf(s->resp, s->len);
  if (!end) return eof ? -1 : 0;
  size_t head_len = (size_t)(end - s->resp) + 4;
  if (s->len < 12 || strncmp(s->resp, "HTTP/1.", 7) != 0) return -2;
  *status = atoi(s->resp + 9);
  *body = s->resp + head_len;
  *body_len = s->len - head_len;
  const char *cl = header_value(s->resp, head_len, "content-length");
  if (cl) {
    long want = strtol(cl, NULL, 10);
    if (want >= 0 && s->total - head_len >= (size_t)want) return 1;
    return eof ? -1 : 0;
  }
  const char *te = header_value(s->resp, head_len, "transfer-encoding");
  if (te && strncasecmp(te + strspn(te, " \t"), "chunked", 7) == 0) {
    if (s->len >= 5 && !memcmp(s->resp + s->len - 5, "0\r\n\r\n", 5)) return 1;
    return eof ? -1 : 0;
  }
  return eof ? 1 : 0; /* delimited by close */
}

static void record_ok(struct slot *s, const char *body, size_t body_len, uint64_t now) {
  const char *w = NULL;
  for (size_t i = 0; i + 1 < body_len; i++) {
    if (body[i] == 'w' && body[i + 1] == '=') {
      w = body + i + 2;
      break;
    }
  }
  if (!w || w >= body + body_len || *w < '0' || *w > '9') {
    e_bad_body++;
    note_error("200 without a w=<n> body%s", "");
    return;
  }
  long idx = strtol(w, NULL, 10);
  if (idx < 0 || idx >= MAX_WORKERS) {
    e_bad_body++;
    note_error("worker index out of range%s", "");
    return;
  }
  n_ok++;
  worker_counts[idx]++;
  if (idx > max_worker_seen) max_worker_seen = (int)idx;
  seen_mask[s->identity] |= 1ull << idx;
  if (now < win_start || now > win_end) return;
  n_ok_window++;
  if (n_lat < LATENCY_CAP) latencies[n_lat++] = (uint32_t)((now - s->started_ns) / 1000);
}

/*
 * Finishes the slot's request: classifies it and records it. A 200 with
 * requests left on the connection sends the next one (returns 1); otherwise
 * the connection is closed (returns 0).
 */
static int finish(struct slot *s, int outcome, uint64_t now) {
  /* outcome: 1 complete, -1 eof before complete, -2 not HTTP */
  if (outcome == 1) {
    int status = 0;
    const char *body = NULL;
    size_t body_len = 0;
    response_complete(s, 1, &status, &body, &body_len);
    n_done++;
    if (status == 200) {
      uint64_t before = n_ok;
      record_ok(s, body, body_len, now);
      if (n_ok > before && ++s->requests_done < (uint32_t)opt_requests && now < win_end) {
        s->started_ns = now;
        build_request(s);
        s->st = SENDING;
        struct epoll_event mod = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = s };
        epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &mod);
        return 1;
      }
    } else {
      e_status_total++;
      if (status > 0 && status < MAX_STATUS) status_counts[status]++;
      if (!first_error[0]) {
        size_t line = strcspn(s->resp, "\r\n");
        if (line > 120) line = 120;
        char text[128];
        memcpy(text, s->resp, line);
        text[line] = 0;
        note_error("answered \"%s\"", text);
      }
    }
  } else if (outcome == -2) {
    e_eof++;
    note_error("response is not HTTP/1.x%s", "");
  } else {
    e_eof++;
    note_error("connection closed before a complete response (%s)", s->total ? "partial" : "no bytes");
  }
  close_slot(s);
  return 0;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint32_t percentile(double p) {
  if (!n_lat) return 0;
  size_t i = (size_t)(p * (double)(n_lat - 1) + 0.5);
  return latencies[i];
}

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20 || c > 0x7e) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);

  int n_ident = opt_xff ? opt_xff : opt_sources;
  seen_mask = calloc((size_t)n_ident, sizeof *seen_mask);
  latencies = malloc(LATENCY_CAP * sizeof *latencies);
  struct slot *slots = calloc((size_t)opt_conc, sizeof *slots);
  struct epoll_event *events = calloc((size_t)opt_conc, sizeof *events);
  if (!seen_mask || !latencies || !slots || !events) {
    fprintf(stderr, "loadgen: out of memory\n");
    return 1;
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    perror("epoll_create1");
    return 1;
  }
  for (int i = 0; i < opt_conc; i++) slots[i].fd = -1;

  const uint64_t t0 = now_ns();
  const uint64_t hard_end = t0 + (uint64_t)opt_max_ms * 1000000ull;
  win_start = t0;
  if (opt_start_at_ms) {
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    const long long wall_ms = (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    if (opt_start_at_ms > wall_ms) win_start = t0 + (uint64_t)(opt_start_at_ms - wall_ms) * 1000000ull;
  }
  win_end = opt_duration_ms ? win_start + (uint64_t)opt_duration_ms * 1000000ull : hard_end;
  const uint64_t window_end = win_end;
  const uint64_t timeout_ns = (uint64_t)opt_timeout_ms * 1000000ull;
  /* After the window closes, in-flight connections get this long to finish. */
  const uint64_t drain_ns = (timeout_ns < 2000000000ull ? timeout_ns : 2000000000ull);
  uint64_t seq = 0;
  uint64_t consecutive_start_failures = 0;
  int in_flight = 0;
  uint64_t now = t0;
  uint64_t measured_end = 0;

  for (;;) {
    now = now_ns();
    int launching = now < window_end && now < hard_end && (!opt_count || seq < (uint64_t)opt_count);
    if (!launching && !measured_end) measured_end = now < window_end ? now : window_end;
    if (launching) {
      for (int i = 0; i < opt_conc && in_flight < opt_conc; i++) {
        if (slots[i].st != IDLE) continue;
        if (opt_count && seq >= (uint64_t)opt_count) break;
        n_started++;
        if (now >= win_start) n_started_window++;
        if (start_slot(&slots[i], seq++, now) == 0) {
          in_flight++;
          consecutive_start_failures = 0;
        } else if (++consecutive_start_failures > 1000) {
          break; /* the next tick tries again; errors are counted */
        }
      }
    }
    if (!in_flight) {
      if (!launching) break;
      if (consecutive_start_failures) {
        struct timespec pause = { 0, 1000000 }; /* do not spin on a refusing server */
        nanosleep(&pause, NULL);
      }
      continue;
    }
    if (!launching && now > (measured_end + drain_ns) ) {
      for (int i = 0; i < opt_conc; i++)
        if (slots[i].st != IDLE) {
          e_timeout++;
          note_error("no complete response before the end of the drain%s", "");
          close_slot(&slots[i]);
        }
      break;
    }
    int n = epoll_wait(epfd, events, opt_conc, 10);
    if (n < 0 && errno != EINTR) {
      perror("epoll_wait");
      break;
    }
    now = now_ns();
    for (int k = 0; k < n; k++) {
      struct slot *s = events[k].data.ptr;
      uint32_t ev = events[k].events;
      if (s->st == IDLE) continue;
      if (s->st == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          if (err == ECONNRESET) e_reset++;
          else e_connect++;
          note_error("connect: %s", strerror(err));
          close_slot(s);
          in_flight--;
          continue;
        }
        if (!(ev & (EPOLLOUT | EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
        s->st = SENDING;
      }
      if (s->st == SENDING) {
        while (s->sent < s->req_len) {
          ssize_t w = send(s->fd, s->req + s->sent, s->req_len - s->sent, MSG_NOSIGNAL);
          if (w > 0) {
            s->sent += (size_t)w;
            continue;
          }
          if (w < 0 && (errno == EAGAIN || errno == EINTR)) break;
          e_reset++;
          note_error("send: %s", strerror(errno));
          close_slot(s);
          in_flight--;
          break;
        }
        if (s->st == IDLE) continue;
        if (s->sent < s->req_len) continue;
        s->st = READING;
        struct epoll_event mod = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = s };
        epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &mod);
      }
      if (s->st == READING) {
        int eof = 0, failed = 0;
        for (int reads = 0; reads < 64; reads++) {
          char scratch[4096];
          char *to = s->len < RESP_CAP ? s->resp + s->len : scratch;
          size_t room = s->len < RESP_CAP ? RESP_CAP - s->len : sizeof scratch;
          ssize_t r = recv(s->fd, to, room, 0);
          if (r > 0) {
            if (to != scratch) s->len += (size_t)r;
            s->total += (size_t)r;
            continue;
          }
          if (r == 0) {
            eof = 1;
            break;
          }
          if (errno == EAGAIN || errno == EINTR) break;
          failed = errno;
          break;
        }
        int status;
        const char *body;
        size_t body_len;
        int done = response_complete(s, eof || failed, &status, &body, &body_len);
        if (done == 1) {
          if (!finish(s, 1, now)) in_flight--;
        } else if (failed && done != 0) {
          e_reset++;
          note_error("recv: %s", strerror(failed));
          close_slot(s);
          in_flight--;
        } else if (done < 0) {
          finish(s, done, now);
          in_flight--;
        }
      }
    }
    /* per-connection timeouts */
    for (int i = 0; i < opt_conc; i++) {
      struct slot *s = &slots[i];
      if (s->st != IDLE && now - s->started_ns > timeout_ns) {
        e_timeout++;
        note_error("no complete response within the timeout (%s)", s->st == CONNECTING ? "connecting" : s->st == SENDING ? "sending" : "reading");
        close_slot(s);
        in_flight--;
      }
    }
  }
  if (!measured_end) measured_end = now;

  qsort(latencies, n_lat, sizeof *latencies, cmp_u32);
  uint64_t violations = 0, identities = 0;
  uint32_t example = 0;
  int have_example = 0;
  for (int i = 0; i < n_ident; i++) {
    if (seen_mask[i]) identities++;
    if (__builtin_popcountll(seen_mask[i]) > 1) {
      violations++;
      if (!have_example) {
        example = (uint32_t)i;
        have_example = 1;
      }
    }
  }
  double window_s = measured_end > win_start ? (double)(measured_end - win_start) / 1e9 : 0;

  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const double cpu_us = (double)usage.ru_utime.tv_sec * 1e6 + (double)usage.ru_utime.tv_usec +
                        (double)usage.ru_stime.tv_sec * 1e6 + (double)usage.ru_stime.tv_usec;
  printf("{\"started\":%llu,\"started_in_window\":%llu,\"done\":%llu,\"ok\":%llu,\"ok_in_window\":%llu,"
         "\"window_ms\":%.1f,\"rate\":%.1f,\"cpu_us\":%.0f,\"wall_ms\":%.1f,",
         (unsigned long long)n_started, (unsigned long long)n_started_window, (unsigned long long)n_done,
         (unsigned long long)n_ok, (unsigned long long)n_ok_window, window_s * 1000.0, window_s > 0 ? (double)n_ok_window / window_s : 0.0,
         cpu_us, (double)(now_ns() - t0) / 1e6);
  printf("\"errors\":{\"connect\":%llu,\"reset\":%llu,\"eof\":%llu,\"timeout\":%llu,\"bad_body\":%llu,\"status\":{",
         (unsigned long long)e_connect, (unsigned long long)e_reset, (unsigned long long)e_eof,
         (unsigned long long)e_timeout, (unsigned long long)e_bad_body);
  int comma = 0;
  for (int i = 0; i < MAX_STATUS; i++)
    if (status_counts[i]) {
      printf("%s\"%d\":%llu", comma ? "," : "", i, (unsigned long long)status_counts[i]);
      comma = 1;
    }
  printf("},\"total\":%llu},\"first_error\":",
         (unsigned long long)(e_connect + e_reset + e_eof + e_timeout + e_bad_body + e_status_total));
  if (first_error[0]) json_string(first_error);
  else printf("null");
  printf(",\"latency_us\":{\"p50\":%u,\"p99\":%u,\"max\":%u,\"samples\":%zu},", percentile(0.50), percentile(0.99),
         n_lat ? latencies[n_lat - 1] : 0, n_lat);
  printf("\"workers\":[");
  for (int i = 0; i <= max_worker_seen; i++) printf("%s%llu", i ? "," : "", (unsigned long long)worker_counts[i]);
  printf("],\"identity\":\"%s\",\"identities\":%llu,\"violations\":%llu,\"violation_example\":",
         opt_xff ? "x-forwarded-for" : "source-address", (unsigned long long)identities, (unsigned long long)violations);
  if (have_example) {
    char text[32];
    if (opt_xff) xff_text(example, text, sizeof text);
    else {
      struct in_addr a = { .s_addr = htonl(ntohl(src_base.s_addr) + example) };
      inet_ntop(AF_INET, &a, text, sizeof text);
    }
    json_string(text);
  } else {
    printf("null");
  }
  printf("}\n");
  return 0;
}
