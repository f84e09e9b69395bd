#include "head_copy.h"

#include <cerrno>
#include <cstring>

#include <sys/socket.h>
#include <sys/types.h>

namespace sticky {

namespace {

ssize_t peek_into(int fd, uint8_t* buffer, size_t length) {
  ssize_t got;
  do {
    got = recv(fd, buffer, length, MSG_PEEK | MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  return got;
}

PeekStatus failure() {
  return errno == EAGAIN || errno == EWOULDBLOCK ? PeekStatus::Nothing : PeekStatus::Failed;
}

}  // namespace

HeadCopy::HeadCopy(size_t limit, uint8_t* scratch) : limit_(limit), scratch_(scratch) {}

int HeadCopy::start(int fd, PeekMode mode) {
  bytes_.clear();
  whole_ = nullptr;
  whole_size_ = 0;
  grew_ = false;
  linear_ = false;
  if (mode != PeekMode::Offset) return 0;
#ifdef SO_PEEK_OFF
  // Offset 0: the next peek starts at the front, and each one moves it on.
  const int front = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &front, sizeof front) == 0) {
    linear_ = true;
    return 0;
  }
  // Kernels before 6.9 have the option for unix sockets only.
  if (errno == EOPNOTSUPP || errno == ENOPROTOOPT || errno == EINVAL) return 0;
  return errno;
#else
  (void)fd;
  return 0;
#endif
}

PeekStatus HeadCopy::peek(int fd) {
  grew_ = false;
  if (!linear_) {
    const ssize_t got = peek_into(fd, scratch_, limit_);
    if (got < 0) return failure();
    whole_ = scratch_;
    if (got == 0) {
      whole_size_ = 0;
      return PeekStatus::End;
    }
    grew_ = static_cast<size_t>(got) > whole_size_;
    whole_size_ = static_cast<size_t>(got);
    return PeekStatus::Bytes;
  }
  // A zero-length recv would read as the peer's end: once full, only a FIN is news.
  const size_t room = limit_ - bytes_.size();
  const ssize_t got = peek_into(fd, scratch_, room == 0 ? 1 : room);
  if (got < 0) return failure();
  if (got == 0) return PeekStatus::End;
  if (room == 0) return PeekStatus::Bytes;
  bytes_.insert(bytes_.end(), scratch_, scratch_ + got);
  grew_ = true;
  return PeekStatus::Bytes;
}

void HeadCopy::stop(int fd) {
#ifdef SO_PEEK_OFF
  if (!linear_) return;
  const int front = -1;
  setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &front, sizeof front);
#else
  (void)fd;
#endif
}

}  // namespace sticky
