/*
 * sioload: a small, strictly bounded Socket.IO (v4, Engine.IO 4) client load
 * generator for bench/run.js. One thread, epoll, one socket per client at a
 * time. Two modes:
 *
 *   --mode ws     WebSocket only: each client upgrades at once
 *                 (transport=websocket), joins the default namespace, then
 *                 echoes: sends 42["echo","<payload>"] and waits for the same
 *                 event back, over and over. Clients connect before the
 *                 measured window (--start-at-ms, --duration-ms); echoes
 *                 completed in the window count, with their round trips.
 *   --mode storm  At --start-at-ms every client connects at once with the
 *                 default transports, as socket.io-client does: the polling
 *                 handshake (GET, then POST "40" and a GET that answers the
 *                 namespace's "40"), then a WebSocket with the session id
 *                 ("2probe" / "3probe", "5") and one echo over it. Ends when
 *                 every client is connected or failed; reports the time until
 *                 the last one connected.
 *
 * A non-sticky balancer shows up as errors: a polling request or the upgrade
 * that reaches another worker than the handshake is answered 400 ("Session ID
 * unknown"). Prints one JSON object on stdout (before closing its sockets), with
 * the CPU time this process used.
 *
 * Build: cc -O2 -o sioload sioload.c
 * Usage: sioload --port P --mode ws|storm --clients N [--sources 256]
 *                [--source-base 127.0.1.1] [--xff 0] [--xff-offset 0]
 *                [--payload 32] [--start-at-ms T] [--duration-ms 5000]
 *                [--timeout-ms 10000] [--max-ms 60000]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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

#define MAX_CLIENTS 20000
#define IN_CAP 16384
#define OUT_CAP 1024
#define LATENCY_CAP (4u * 1024u * 1024u)
#define MAX_PAYLOAD 512

enum step {
  FAILED = -1,
  HANDSHAKE = 0, /* storm: GET the polling handshake */
  JOIN_POST,     /* storm: POST "40" */
  JOIN_POLL,     /* storm: GET the namespace's "40" */
  UPGRADE,       /* the WebSocket's 101 */
  OPEN,          /* ws: the Engine.IO open packet "0{...}" */
  JOINED,        /* ws: the namespace's "40" */
  PROBE,         /* storm: "3probe" */
  ECHO,          /* an echo in flight */
  CONNECTED,     /* storm: done; ws: between echoes (never waits there) */
};

struct client {
  int fd;
  int poll_fd; /* storm: the polling connection, kept open until the upgrade is done */
  int connecting;
  enum step step;
  uint32_t src, xff;
  uint64_t step_started_ns; /* for the timeout */
  uint64_t echo_sent_ns;
  uint64_t started_ns;
  char sid[64];
  size_t in_len;
  char in[IN_CAP];
  size_t out_len, out_sent;
  char out[OUT_CAP];
};

static const char *opt_host = "127.0.0.1";
static int opt_port = 0;
static int opt_storm = 0;
static long opt_clients = 0;
static int opt_sources = 256;
static const char *opt_source_base = "127.0.1.1";
static long opt_xff = 0;
static long opt_xff_offset = 0;
static long opt_payload = 32;
static long long opt_start_at_ms = 0;
static long opt_duration_ms = 5000;
static long opt_timeout_ms = 10000;
static long opt_max_ms = 60000;

static struct in_addr src_base;
static struct sockaddr_in dst;
static int epfd;
static char echo_frame_text[MAX_PAYLOAD + 32];
static size_t echo_frame_len;

/* results */
static uint64_t n_connected, n_failed, n_echoes, n_echoes_window;
static uint64_t e_connect, e_reset, e_eof, e_timeout, e_protocol, e_status;
static char first_error[256];
static uint32_t *latencies; /* ws: echo round trips; storm: time to connected */
static size_t n_lat;
static uint64_t last_connected_ns;
static uint64_t win_start, win_end;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(void) {
  fprintf(stderr,
          "usage: sioload --port P --mode ws|storm --clients N [--sources 256] [--source-base 127.0.1.1]\n"
          "               [--xff 0] [--xff-offset 0] [--payload 32] [--start-at-ms T] [--duration-ms 5000]\n"
          "               [--timeout-ms 10000] [--max-ms 60000]\n");
  exit(2);
}

static long long num_arg(const char *name, const char *value, long long min, long long max) {
  char *end;
  errno = 0;
  long long v = strtoll(value, &end, 10);
  if (errno || *end || v < min || v > max) {
    fprintf(stderr, "sioload: %s must be an integer from %lld to %lld\n", name, min, max);
    exit(2);
  }
  return v;
}

static void parse_args(int argc, char **argv) {
  const char *mode = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(a, "--port")) opt_port = (int)num_arg(a, v, 1, 65535);
    else if (!strcmp(a, "--mode")) mode = v;
    else if (!strcmp(a, "--clients")) opt_clients = (long)num_arg(a, v, 1, MAX_CLIENTS);
    else if (!strcmp(a, "--sources")) opt_sources = (int)num_arg(a, v, 1, 65536);
    else if (!strcmp(a, "--source-base")) opt_source_base = v;
    else if (!strcmp(a, "--xff")) opt_xff = (long)num_arg(a, v, 0, 65536);
    else if (!strcmp(a, "--xff-offset")) opt_xff_offset = (long)num_arg(a, v, 0, 65536);
    else if (!strcmp(a, "--payload")) opt_payload = (long)num_arg(a, v, 1, MAX_PAYLOAD);
    else if (!strcmp(a, "--start-at-ms")) opt_start_at_ms = num_arg(a, v, 1, 0x7fffffffffffffffLL);
    else if (!strcmp(a, "--duration-ms")) opt_duration_ms = (long)num_arg(a, v, 1, 3600000);
    else if (!strcmp(a, "--timeout-ms")) opt_timeout_ms = (long)num_arg(a, v, 1, 600000);
    else if (!strcmp(a, "--max-ms")) opt_max_ms = (long)num_arg(a, v, 1, 3600000);
    else usage();
  }
  if (!opt_port || !opt_clients || !mode) usage();
  if (!strcmp(mode, "storm")) opt_storm = 1;
  else if (strcmp(mode, "ws")) usage();
  if (inet_pton(AF_INET, opt_source_base, &src_base) != 1) {
    fprintf(stderr, "sioload: --source-base must be an IPv4 address\n");
    exit(2);
  }
  uint32_t first = ntohl(src_base.s_addr), last = first + (uint32_t)opt_sources - 1;
  if ((first >> 24) != 127 || (last >> 24) != 127) {
    fprintf(stderr, "sioload: source addresses must stay in 127.0.0.0/8\n");
    exit(2);
  }
  memset(&dst, 0, sizeof dst);
  dst.sin_family = AF_INET;
  dst.sin_port = htons((uint16_t)opt_port);
  inet_pton(AF_INET, opt_host, &dst.sin_addr);
}

/* ---------------------------------------------------------------- failures */

static void fail(struct client *c, uint64_t *counter, const char *what) {
  (*counter)++;
  n_failed++;
  if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s", what);
  if (c->fd >= 0) close(c->fd); /* closing removes it from the epoll set */
  if (c->poll_fd >= 0) close(c->poll_fd);
  c->fd = c->poll_fd = -1;
  c->step = FAILED;
}

/* ---------------------------------------------------------------- sockets */

static int open_socket(struct client *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in src = {0};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(ntohl(src_base.s_addr) + c->src);
  if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0 ||
      (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)) {
    close(fd);
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Queues bytes for the client's socket and writes what the socket takes now. */
static int send_bytes(struct client *c, const char *bytes, size_t n) {
  if (c->out_len + n > OUT_CAP) return -1;
  memcpy(c->out + c->out_len, bytes, n);
  c->out_len += n;
  if (c->connecting) return 0;
  while (c->out_sent < c->out_len) {
    ssize_t w = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
    if (w > 0) c->out_sent += (size_t)w;
    else if (w < 0 && (errno == EAGAIN || errno == EINTR)) return 0; /* EPOLLOUT finishes it */
    else return -1;
  }
  c->out_len = c->out_sent = 0;
  return 0;
}

static int send_http(struct client *c, const char *method, const char *query, const char *extra, const char *body) {
  char xff_line[64] = "";
  if (opt_xff) {
    uint32_t i = (uint32_t)opt_xff_offset + c->xff;
    snprintf(xff_line, sizeof xff_line, "X-Forwarded-For: 198.%u.%u.%u\r\n", 18 + (i >> 16), (i >> 8) & 255, i & 255);
  }
  char request[OUT_CAP];
  const size_t body_len = body ? strlen(body) : 0;
  char length_line[96] = "";
  if (body) snprintf(length_line, sizeof length_line, "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n", body_len);
  int n = snprintf(request, sizeof request, "%s /socket.io/?EIO=4&%s HTTP/1.1\r\nHost: %s:%d\r\nAccept: */*\r\n%s%s%s\r\n%s",
                   method, query, opt_host, opt_port, xff_line, extra, length_line, body ? body : "");
  if (n <= 0 || (size_t)n >= sizeof request) return -1;
  return send_bytes(c, request, (size_t)n);
}

/* One masked text frame (RFC 6455: client frames are masked). */
static int send_frame(struct client *c, const char *text, size_t n) {
  char frame[MAX_PAYLOAD + 64];
  size_t h = 0;
  if (n > sizeof frame - 8) return -1;
  frame[h++] = (char)0x81;
  if (n < 126) {
    frame[h++] = (char)(0x80 | n);
  } else {
    frame[h++] = (char)(0x80 | 126);
    frame[h++] = (char)(n >> 8);
    frame[h++] = (char)(n & 255);
  }
  static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  memcpy(frame + h, mask, 4);
  h += 4;
  for (size_t i = 0; i < n; i++) frame[h + i] = (char)(text[i] ^ mask[i & 3]);
  return send_bytes(c, frame, h + n);
}

static int send_upgrade(struct client *c) {
  char query[128];
  if (c->sid[0]) snprintf(query, sizeof query, "transport=websocket&sid=%s", c->sid);
  else snprintf(query, sizeof query, "transport=websocket");
  return send_http(c, "GET", query,
                   "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n",
                   NULL);
}

static void begin(struct client *c, enum step step, uint64_t now) {
  c->step = step;
  c->step_started_ns = now;
}

/* Starts a client: its first connection. */
static void start_client(struct client *c, uint64_t now) {
  c->started_ns = now;
  c->fd = open_socket(c);
  if (c->fd < 0) return fail(c, &e_connect, "connect: could not open a socket");
  c->connecting = 1;
  c->in_len = c->out_len = c->out_sent = 0;
  if (opt_storm) {
    begin(c, HANDSHAKE, now);
    if (send_http(c, "GET", "transport=polling", "", NULL) < 0) fail(c, &e_reset, "send failed");
  } else {
    begin(c, UPGRADE, now);
    if (send_upgrade(c) < 0) fail(c, &e_reset, "send failed");
  }
}

/* ---------------------------------------------------------------- parsing */

/* A complete HTTP response at the front of c->in: status, body; returns bytes used, 0 if incomplete, -1 if not HTTP. */
static long take_http(struct client *c, int *status, const char **body, size_t *body_len, int upgrade) {
  char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
  if (!end) return c->in_len >= IN_CAP ? -1 : 0;
  if (c->in_len < 12 || strncmp(c->in, "HTTP/1.", 7)) return -1;
  *status = atoi(c->in + 9);
  size_t head = (size_t)(end - c->in) + 4;
  if (upgrade && *status == 101) {
    *body = c->in + head;
    *body_len = 0;
    return (long)head;
  }
  long length = -1;
  for (char *p = c->in; p < end; p++) {
    if (p[0] == '\n' && !strncasecmp(p + 1, "content-length:", 15)) {
      length = strtol(p + 16, NULL, 10);
      break;
    }
  }
  if (length < 0) return -1; /* Engine.IO and Node's 400s carry a length */
  if (c->in_len < head + (size_t)length) return 0;
  *body = c->in + head;
  *body_len = (size_t)length;
  return (long)(head + (size_t)length);
}

/* A complete server frame at the front of c->in: returns bytes used, 0 if incomplete, -1 if malformed. */
static long take_frame(struct client *c, int *opcode, const char **payload, size_t *len) {
  if (c->in_len < 2) return 0;
  const unsigned char *b = (const unsigned char *)c->in;
  *opcode = b[0] & 15;
  if (b[1] & 0x80) return -1; /* servers do not mask */
  size_t n = b[1] & 127, h = 2;
  if (n == 126) {
    if (c->in_len < 4) return 0;
    n = ((size_t)b[2] << 8) | b[3];
    h = 4;
  } else if (n == 127) {
    return -1; /* nothing here is that large */
  }
  if (h + n > IN_CAP) return -1;
  if (c->in_len < h + n) return 0;
  *payload = c->in + h;
  *len = n;
  return (long)(h + n);
}

static void consume(struct client *c, size_t n) {
  memmove(c->in, c->in + n, c->in_len - n);
  c->in_len -= n;
}

static void send_echo(struct client *c, uint64_t now) {
  begin(c, ECHO, now);
  c->echo_sent_ns = now;
  if (send_frame(c, echo_frame_text, echo_frame_len) < 0) fail(c, &e_reset, "send failed");
}

static void connected(struct client *c, uint64_t now) {
  n_connected++;
  if (opt_storm) {
    last_connected_ns = now;
    if (n_lat < LATENCY_CAP) latencies[n_lat++] = (uint32_t)((now - c->started_ns) / 1000);
    if (c->poll_fd >= 0) close(c->poll_fd);
    c->poll_fd = -1;
    begin(c, CONNECTED, now);
  } else if (now < win_end) {
    send_echo(c, now);
  } else {
    begin(c, CONNECTED, now);
  }
}

static void http_status_error(struct client *c, int status, const char *body, size_t body_len) {
  char text[160];
  snprintf(text, sizeof text, "%s answered HTTP %d: %.*s", c->step == UPGRADE ? "upgrade" : "polling request", status,
           (int)(body_len > 80 ? 80 : body_len), body);
  fail(c, &e_status, text);
}

/* Handles what arrived; returns when it needs more bytes or the client failed. */
static void advance(struct client *c, uint64_t now) {
  while (c->step != FAILED) {
    int status, opcode;
    const char *body;
    size_t body_len;
    long used;
    switch (c->step) {
      case HANDSHAKE:
      case JOIN_POST:
      case JOIN_POLL:
        used = take_http(c, &status, &body, &body_len, 0);
        if (used == 0) return;
        if (used < 0) return fail(c, &e_protocol, "polling response is not HTTP with a Content-Length");
        if (status != 200) return http_status_error(c, status, body, body_len);
        if (c->step == HANDSHAKE) {
          const char *sid = memmem(body, body_len, "\"sid\":\"", 7);
          const char *close_quote = sid ? memchr(sid + 7, '"', body_len - (size_t)(sid + 7 - body)) : NULL;
          if (body_len < 1 || body[0] != '0' || !close_quote || close_quote - sid - 7 >= (long)sizeof c->sid)
            return fail(c, &e_protocol, "handshake without an Engine.IO open packet");
          memcpy(c->sid, sid + 7, (size_t)(close_quote - sid - 7));
          c->sid[close_quote - sid - 7] = 0;
          consume(c, (size_t)used);
          char query[128];
          snprintf(query, sizeof query, "transport=polling&sid=%s", c->sid);
          begin(c, JOIN_POST, now);
          if (send_http(c, "POST", query, "", "40") < 0) return fail(c, &e_reset, "send failed");
        } else if (c->step == JOIN_POST) {
          consume(c, (size_t)used);
          char query[128];
          snprintf(query, sizeof query, "transport=polling&sid=%s", c->sid);
          begin(c, JOIN_POLL, now);
          if (send_http(c, "GET", query, "", NULL) < 0) return fail(c, &e_reset, "send failed");
        } else {
          if (!memmem(body, body_len, "40", 2)) return fail(c, &e_protocol, "poll without the namespace's 40");
          consume(c, (size_t)used);
          /* The polling connection stays open (idle) until the upgrade is done, as in a browser. */
          struct epoll_event unused;
          epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, &unused);
          c->poll_fd = c->fd;
          c->in_len = c->out_len = c->out_sent = 0;
          c->fd = open_socket(c);
          if (c->fd < 0) return fail(c, &e_connect, "connect: could not open the WebSocket");
          c->connecting = 1;
          begin(c, UPGRADE, now);
          if (send_upgrade(c) < 0) return fail(c, &e_reset, "send failed");
          return;
        }
        break;
      case UPGRADE:
        used = take_http(c, &status, &body, &body_len, 1);
        if (used == 0) return;
        if (used < 0) return fail(c, &e_protocol, "upgrade response is not HTTP");
        if (status != 101) return http_status_error(c, status, body, body_len);
        consume(c, (size_t)used);
        if (opt_storm) {
          begin(c, PROBE, now);
          if (send_frame(c, "2probe", 6) < 0) return fail(c, &e_reset, "send failed");
        } else {
          begin(c, OPEN, now);
        }
        break;
      default: {
        used = take_frame(c, &opcode, &body, &body_len);
        if (used == 0) return;
        if (used < 0) return fail(c, &e_protocol, "malformed WebSocket frame");
        if (opcode == 8) return fail(c, &e_eof, "the server closed the WebSocket");
        int is_text = opcode == 1;
        char packet[32];
        size_t plen = body_len < sizeof packet - 1 ? body_len : sizeof packet - 1;
        memcpy(packet, body, plen);
        packet[plen] = 0;
        consume(c, (size_t)used);
        if (!is_text) break;                   /* pings and pongs of the WebSocket itself: none expected */
        if (!strcmp(packet, "2")) {            /* Engine.IO ping */
          if (send_frame(c, "3", 1) < 0) return fail(c, &e_reset, "send failed");
          break;
        }
        if (c->step == OPEN) {
          if (packet[0] != '0') return fail(c, &e_protocol, "no Engine.IO open packet on the WebSocket");
          begin(c, JOINED, now);
          if (send_frame(c, "40", 2) < 0) return fail(c, &e_reset, "send failed");
        } else if (c->step == JOINED) {
          if (strncmp(packet, "40", 2)) break;
          connected(c, now);
        } else if (c->step == PROBE) {
          if (strcmp(packet, "3probe")) break;
          if (send_frame(c, "5", 1) < 0) return fail(c, &e_reset, "send failed");
          send_echo(c, now);
        } else if (c->step == ECHO) {
          if (strncmp(packet, "42[\"echo\"", 9)) break;
          if (opt_storm) {
            connected(c, now);
          } else {
            n_echoes++;
            if (now >= win_start && now <= win_end) {
              n_echoes_window++;
              if (n_lat < LATENCY_CAP) latencies[n_lat++] = (uint32_t)((now - c->echo_sent_ns) / 1000);
            }
            if (now < win_end) send_echo(c, now);
            else begin(c, CONNECTED, now);
          }
        }
        break;
      }
    }
  }
}

static void on_event(struct client *c, uint32_t events, uint64_t now) {
  if (c->step == FAILED) return;
  if (c->connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      char text[96];
      snprintf(text, sizeof text, "connect: %s", strerror(err));
      return fail(c, err == ECONNRESET ? &e_reset : &e_connect, text);
    }
    if (!(events & (EPOLLOUT | EPOLLIN))) return;
    c->connecting = 0;
  }
  if (c->out_sent < c->out_len) {
    if (send_bytes(c, "", 0) < 0) return fail(c, &e_reset, "send failed");
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (c->out_sent < c->out_len ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
  for (int reads = 0; reads < 16; reads++) {
    if (c->in_len >= IN_CAP) return fail(c, &e_protocol, "response over the buffer");
    ssize_t r = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
    if (r > 0) {
      c->in_len += (size_t)r;
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
    advance(c, now); /* what came before the close still counts */
    if (c->step == FAILED || (c->step == CONNECTED && !opt_storm)) return;
    if (r == 0) return fail(c, &e_eof, "the server closed the connection");
    char text[96];
    snprintf(text, sizeof text, "recv: %s", strerror(errno));
    return fail(c, &e_reset, text);
  }
  advance(c, now);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint32_t percentile(double p) {
  if (!n_lat) return 0;
  return latencies[(size_t)(p * (double)(n_lat - 1) + 0.5)];
}

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') printf("\\%c", ch);
    else if (ch < 0x20 || ch > 0x7e) printf("\\u%04x", ch);
    else putchar(ch);
  }
  putchar('"');
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  struct client *clients = calloc((size_t)opt_clients, sizeof *clients);
  struct epoll_event *events = calloc(1024, sizeof *events);
  latencies = malloc(LATENCY_CAP * sizeof *latencies);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (!clients || !events || !latencies || epfd < 0) {
    fprintf(stderr, "sioload: out of memory\n");
    return 1;
  }
  int n = snprintf(echo_frame_text, sizeof echo_frame_text, "42[\"echo\",\"");
  for (long i = 0; i < opt_payload; i++) echo_frame_text[n++] = 'x';
  n += snprintf(echo_frame_text + n, sizeof echo_frame_text - (size_t)n, "\"]");
  echo_frame_len = (size_t)n;

  const uint64_t t0 = now_ns();
  const uint64_t hard_end = t0 + (uint64_t)opt_max_ms * 1000000ull;
  win_start = t0;
  if (opt_start_at_ms) {
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    const long long wall_ms = (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    if (opt_start_at_ms > wall_ms) win_start = t0 + (uint64_t)(opt_start_at_ms - wall_ms) * 1000000ull;
  }
  win_end = opt_storm ? hard_end : win_start + (uint64_t)opt_duration_ms * 1000000ull;
  const uint64_t timeout_ns = (uint64_t)opt_timeout_ms * 1000000ull;

  if (opt_storm) {
    /* Every client at once, at the start of the window. */
    uint64_t now;
    while ((now = now_ns()) < win_start) {
      struct timespec pause = {0, 1000000};
      nanosleep(&pause, NULL);
    }
  }
  uint64_t now = now_ns();
  for (long i = 0; i < opt_clients; i++) {
    struct client *c = &clients[i];
    c->fd = c->poll_fd = -1;
    c->src = (uint32_t)(i % opt_sources);
    c->xff = opt_xff ? (uint32_t)(i % opt_xff) : 0;
    start_client(c, now);
  }
  uint64_t last_sweep = now;
  for (;;) {
    now = now_ns();
    if (now >= hard_end) break;
    if (opt_storm && n_connected + n_failed >= (uint64_t)opt_clients) break;
    if (!opt_storm && now >= win_end) break;
    int ready = epoll_wait(epfd, events, 1024, 10);
    if (ready < 0 && errno != EINTR) {
      perror("epoll_wait");
      break;
    }
    now = now_ns();
    for (int k = 0; k < ready; k++) on_event(events[k].data.ptr, events[k].events, now);
    if (now - last_sweep > 10000000ull) {
      last_sweep = now;
      for (long i = 0; i < opt_clients; i++) {
        struct client *c = &clients[i];
        if (c->step == FAILED || c->step == CONNECTED) continue;
        if (now - c->step_started_ns > timeout_ns) {
          char text[96];
          snprintf(text, sizeof text, "no answer within %ld ms (step %d)", opt_timeout_ms, (int)c->step);
          fail(c, &e_timeout, text);
        }
      }
    }
  }
  now = now_ns();
  /* Clients that never got there by the end. */
  for (long i = 0; i < opt_clients; i++) {
    struct client *c = &clients[i];
    if (c->step == FAILED || c->step == CONNECTED || (c->step == ECHO && !opt_storm)) continue;
    fail(c, &e_timeout, "not connected by the end of the run");
  }

  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  const double cpu_us = (double)usage.ru_utime.tv_sec * 1e6 + (double)usage.ru_utime.tv_usec +
                        (double)usage.ru_stime.tv_sec * 1e6 + (double)usage.ru_stime.tv_usec;
  qsort(latencies, n_lat, sizeof *latencies, cmp_u32);
  const double window_s = opt_storm ? (double)(now - win_start) / 1e9 : (double)(win_end - win_start) / 1e9;
  printf("{\"mode\":\"%s\",\"clients\":%ld,\"connected\":%llu,\"failed\":%llu,", opt_storm ? "storm" : "ws", opt_clients,
         (unsigned long long)n_connected, (unsigned long long)n_failed);
  printf("\"echoes\":%llu,\"echoes_in_window\":%llu,\"window_ms\":%.1f,\"rate\":%.1f,",
         (unsigned long long)n_echoes, (unsigned long long)n_echoes_window, window_s * 1000.0,
         window_s > 0 ? (double)n_echoes_window / window_s : 0.0);
  printf("\"all_connected_ms\":%.1f,\"cpu_us\":%.0f,",
         n_connected == (uint64_t)opt_clients && last_connected_ns ? (double)(last_connected_ns - win_start) / 1e6 : -1.0,
         cpu_us);
  printf("\"errors\":{\"connect\":%llu,\"reset\":%llu,\"eof\":%llu,\"timeout\":%llu,\"protocol\":%llu,\"status\":%llu,\"total\":%llu},",
         (unsigned long long)e_connect, (unsigned long long)e_reset, (unsigned long long)e_eof,
         (unsigned long long)e_timeout, (unsigned long long)e_protocol, (unsigned long long)e_status,
         (unsigned long long)n_failed);
  printf("\"first_error\":");
  if (first_error[0]) json_string(first_error);
  else printf("null");
  printf(",\"latency_us\":{\"p50\":%u,\"p99\":%u,\"max\":%u,\"samples\":%zu}}\n", percentile(0.5), percentile(0.99),
         n_lat ? latencies[n_lat - 1] : 0, n_lat);
  fflush(stdout);
  return 0; /* the kernel closes every socket */
}
