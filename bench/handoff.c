/*
 * handoff: the native channel's hand-off in plain C, as a floor for what the
 * sticky-native primary costs per connection on this machine.
 *
 * The primary does what native/dispatcher.cc does per connection and nothing
 * else: accept4 (draining the queue on each readiness), one MSG_PEEK of the
 * first bytes, a worker picked from the source address, each worker's batch
 * of descriptors sent over a SOCK_SEQPACKET socketpair with SCM_RIGHTS, its
 * own copies closed. The workers are C too: each reads the request head and
 * answers "w=<index>" with Connection: close. Its primary CPU per connection
 * is the kernel's share of the hand-off with no Node around it; its
 * connections/s say little about a Node app (its workers are C).
 *
 * Build: cc -O2 -o handoff handoff.c
 * Usage: handoff --port P [--workers 2]      (127.0.0.1 only; stops on SIGTERM)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_WORKERS 16
#define BATCH 64 /* descriptors per message, and accepts per readiness */
#define HEAD_LIMIT 16384

static pid_t workers[MAX_WORKERS];
static int worker_count = 2;

static void stop(int signal_number) {
  (void)signal_number;
  for (int i = 0; i < worker_count; i++)
    if (workers[i] > 0) kill(workers[i], SIGKILL);
  _exit(0);
}

/* Reads until the end of the request head; -1 on EOF, error, timeout or a head over the limit. */
static int read_head(int fd, char *buffer) {
  size_t have = 0;
  while (have < HEAD_LIMIT - 1) {
    ssize_t got = read(fd, buffer + have, HEAD_LIMIT - 1 - have);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    have += (size_t)got;
    buffer[have] = '\0';
    if (strstr(buffer, "\r\n\r\n")) return 0;
  }
  return -1;
}

static void serve(int channel, int index) {
  char body[16];
  char response[192];
  const int body_length = snprintf(body, sizeof body, "w=%d", index);
  const int length = snprintf(response, sizeof response,
                              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                              "Connection: close\r\n\r\n%s",
                              body_length, body);
  static char head[HEAD_LIMIT];
  const struct timeval read_limit = {5, 0};
  for (;;) {
    char byte;
    int fds[BATCH];
    char control[CMSG_SPACE(sizeof fds)];
    struct iovec payload = {&byte, 1};
    struct msghdr message = {0};
    message.msg_iov = &payload;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t got = recvmsg(channel, &message, MSG_CMSG_CLOEXEC);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) _exit(0); /* the primary is gone */
    struct cmsghdr *rights = CMSG_FIRSTHDR(&message);
    if (!rights || rights->cmsg_level != SOL_SOCKET || rights->cmsg_type != SCM_RIGHTS) continue;
    const int count = (int)((rights->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    memcpy(fds, CMSG_DATA(rights), (size_t)count * sizeof(int));
    for (int i = 0; i < count; i++) {
      /* Accepted non-blocking by the primary; this worker serves one connection at a time. */
      fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) & ~O_NONBLOCK);
      setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &read_limit, sizeof read_limit);
      if (read_head(fds[i], head) == 0) (void)!write(fds[i], response, (size_t)length);
      close(fds[i]);
    }
  }
}

static void send_batch(int channel, const int *fds, int count) {
  char byte = 0;
  char control[CMSG_SPACE(sizeof(int) * BATCH)];
  struct iovec payload = {&byte, 1};
  struct msghdr message = {0};
  message.msg_iov = &payload;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
  struct cmsghdr *rights = CMSG_FIRSTHDR(&message);
  rights->cmsg_level = SOL_SOCKET;
  rights->cmsg_type = SCM_RIGHTS;
  rights->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
  memcpy(CMSG_DATA(rights), fds, sizeof(int) * (size_t)count);
  /* Blocking: a full channel holds the primary back, where the dispatcher would queue. */
  while (sendmsg(channel, &message, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
  for (int i = 0; i < count; i++) close(fds[i]);
}

int main(int argc, char **argv) {
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--workers")) worker_count = atoi(argv[i + 1]);
  }
  if (port <= 0 || port > 65535 || worker_count < 1 || worker_count > MAX_WORKERS) {
    fprintf(stderr, "usage: handoff --port P [--workers 1..%d]\n", MAX_WORKERS);
    return 2;
  }
  int channels[MAX_WORKERS];
  for (int i = 0; i < worker_count; i++) {
    int ends[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) return perror("socketpair"), 1;
    workers[i] = fork();
    if (workers[i] < 0) return perror("fork"), 1;
    if (workers[i] == 0) {
      close(ends[0]);
      serve(ends[1], i);
    }
    close(ends[1]);
    channels[i] = ends[0];
  }
  signal(SIGTERM, stop);
  signal(SIGINT, stop);

  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t)port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 4096) != 0) {
    perror("listen");
    stop(0);
  }
  const int events = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event interest = {.events = EPOLLIN};
  epoll_ctl(events, EPOLL_CTL_ADD, listener, &interest);
  static char peek[HEAD_LIMIT];
  for (;;) {
    struct epoll_event ready;
    if (epoll_wait(events, &ready, 1, -1) < 0) continue;
    int batch[MAX_WORKERS][BATCH];
    int counts[MAX_WORKERS] = {0};
    for (int taken = 0; taken < BATCH; taken++) {
      struct sockaddr_in peer;
      socklen_t peer_length = sizeof peer;
      const int fd = accept4(listener, (struct sockaddr *)&peer, &peer_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;
      (void)!recv(fd, peek, sizeof peek, MSG_PEEK | MSG_DONTWAIT);
      /* Any fixed function of the source address keeps clients sticky. */
      const int index = (int)((ntohl(peer.sin_addr.s_addr) * 2654435761u) >> 16) % worker_count;
      batch[index][counts[index]++] = fd;
    }
    for (int i = 0; i < worker_count; i++)
      if (counts[i]) send_batch(channels[i], batch[i], counts[i]);
  }
}
