/*
 * reuseport: binds an SO_REUSEPORT group of listening sockets and runs a
 * command that inherits them, for the bench's baseline (a): the kernel's own
 * spread (a hash of the 4-tuple) over the members, with no BPF program, which
 * is what kernel steering costs at best. Node 20's net has no reusePort
 * option, so the group is made here.
 *
 * The members are the command's descriptors 3, 4, ... (count of them); the
 * command replaces this process (exec), so its pid is this one's.
 *
 * Build: cc -O2 -o reuseport reuseport.c
 * Usage: reuseport --port P [--count 2] -- command [args...]   (127.0.0.1 only)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_MEMBERS 64

int main(int argc, char **argv) {
  int port = 0, count = 2, i = 1;
  for (; i + 1 < argc && strcmp(argv[i], "--"); i += 2) {
    if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--count")) count = atoi(argv[i + 1]);
    else break;
  }
  if (i >= argc || strcmp(argv[i], "--") || i + 1 >= argc || port <= 0 || port > 65535 || count < 1 ||
      count > MAX_MEMBERS) {
    fprintf(stderr, "usage: reuseport --port P [--count 1..%d] -- command [args...]\n", MAX_MEMBERS);
    return 2;
  }
  /* Bind every member first, then move them to 3, 4, ...: a socket() may return a number the move is about to take. */
  int fds[MAX_MEMBERS];
  for (int m = 0; m < count; m++) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    const int on = 1;
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
        bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 511) != 0) {
      perror("reuseport: member");
      return 1;
    }
    fds[m] = fcntl(fd, F_DUPFD, 3 + MAX_MEMBERS);
    close(fd);
    if (fds[m] < 0) {
      perror("reuseport: fcntl");
      return 1;
    }
  }
  for (int m = 0; m < count; m++) {
    if (dup2(fds[m], 3 + m) < 0) {
      perror("reuseport: dup2");
      return 1;
    }
    close(fds[m]);
  }
  execvp(argv[i + 1], argv + i + 1);
  perror("reuseport: exec");
  return 1;
}
