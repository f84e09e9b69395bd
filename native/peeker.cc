#include "peeker.h"

#ifdef STICKY_HAVE_PEEKER

#include <cerrno>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/epoll.h>
#else
#include <sys/event.h>
#include <sys/time.h>
#endif

#include "http_head.h"
#include "sid.h"

namespace sticky {

namespace {

const uint8_t kNoAddress[16] = {};

PeekOutcome outcome_of(HeadStatus status) {
  switch (status) {
    case HeadStatus::Found: return PeekOutcome::Found;
    case HeadStatus::Missing: return PeekOutcome::Missing;
    case HeadStatus::Invalid: return PeekOutcome::Invalid;
    case HeadStatus::NotHttp: return PeekOutcome::NotHttp;
    case HeadStatus::TooLarge: return PeekOutcome::TooLarge;
    case HeadStatus::NeedMore: break;
  }
  return PeekOutcome::Error;
}

}  // namespace

Peeker::Peeker(std::string header_lower, size_t limit, HeaderFormat format, AddressPick pick,
               CidrSet trusted)
    : header_lower_(std::move(header_lower)),
      limit_(limit),
      trusted_(std::move(trusted)),
      rules_{format, pick, &trusted_},
      buffer_(limit) {
#ifdef __linux__
  event_fd_ = epoll_create1(EPOLL_CLOEXEC);
#else
  event_fd_ = kqueue();
  if (event_fd_ >= 0) fcntl(event_fd_, F_SETFD, FD_CLOEXEC);
#endif
  if (event_fd_ < 0) open_error_ = errno;
}

Peeker::~Peeker() { close(); }

int Peeker::watch(int fd) {
  if (closed()) return EBADF;
#ifdef __linux__
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  event.data.fd = fd;
  if (epoll_ctl(event_fd_, EPOLL_CTL_ADD, fd, &event) == 0) return 0;
  return errno == EEXIST ? 0 : errno;
#else
  struct kevent change;
  EV_SET(&change, fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, 0);
  return kevent(event_fd_, &change, 1, nullptr, 0, nullptr) == 0 ? 0 : errno;
#endif
}

void Peeker::unwatch(int fd) {
  if (!closed()) forget(fd);
}

void Peeker::forget(int fd) {
  // Errors only mean the socket was not in the set, which is what we want.
#ifdef __linux__
  epoll_ctl(event_fd_, EPOLL_CTL_DEL, fd, nullptr);
#else
  struct kevent change;
  EV_SET(&change, fd, EVFILT_READ, EV_DELETE, 0, 0, 0);
  kevent(event_fd_, &change, 1, nullptr, 0, nullptr);
#endif
  for (size_t i = ready_next_; i < ready_count_; ++i) {
    if (ready_[i].fd == fd) ready_[i].fd = -1;
  }
}

size_t Peeker::take_ready() {
  int taken;
#ifdef __linux__
  epoll_event events[kBatch];
  do {
    taken = epoll_wait(event_fd_, events, kBatch, 0);
  } while (taken < 0 && errno == EINTR);
  for (int i = 0; i < taken; ++i) {
    const uint32_t flags = events[i].events;
    ready_[i].fd = events[i].data.fd;
    ready_[i].peer = (flags & EPOLLERR)                 ? Peer::Broken
                     : (flags & (EPOLLRDHUP | EPOLLHUP)) ? Peer::Finished
                                                         : Peer::Open;
  }
#else
  struct kevent events[kBatch];
  const timespec no_wait{0, 0};
  do {
    taken = kevent(event_fd_, nullptr, 0, events, kBatch, &no_wait);
  } while (taken < 0 && errno == EINTR);
  for (int i = 0; i < taken; ++i) {
    // On EOF kqueue puts the socket's pending error, if any, in fflags.
    ready_[i].fd = static_cast<int>(events[i].ident);
    ready_[i].peer = !(events[i].flags & EV_EOF) ? Peer::Open
                     : events[i].fflags != 0     ? Peer::Broken
                                                 : Peer::Finished;
  }
#endif
  ready_next_ = 0;
  ready_count_ = taken > 0 ? static_cast<size_t>(taken) : 0;
  return ready_count_;
}

bool Peeker::decide_now(int fd, PeekReport report, void* context) {
  PeekOutcome outcome;
  const uint8_t* address;
  if (closed() || !inspect(fd, Peer::Open, &outcome, &address)) return false;
  report(context, fd, outcome, address);
  return true;
}

void Peeker::drain(PeekReport report, void* context) {
  while (!closed()) {
    const size_t taken = take_ready();
    while (ready_next_ < ready_count_ && !closed()) {
      const Ready ready = ready_[ready_next_++];
      PeekOutcome outcome;
      const uint8_t* address;
      if (ready.fd < 0 || !inspect(ready.fd, ready.peer, &outcome, &address)) continue;
      // Out of the set before anyone hears of it: the report may hand the
      // socket to another process, and epoll would keep watching it there.
      forget(ready.fd);
      report(context, ready.fd, outcome, address);
    }
    ready_next_ = ready_count_ = 0;
    // A full batch may have left more sockets ready behind it.
    if (taken < kBatch) break;
  }
}

bool Peeker::inspect(int fd, Peer peer, PeekOutcome* outcome, const uint8_t** address) {
  ssize_t peeked;
  do {
    peeked = recv(fd, buffer_.data(), limit_, MSG_PEEK | MSG_DONTWAIT);
  } while (peeked < 0 && errno == EINTR);

  *address = kNoAddress;
  HeadScan scan;
  if (peeked < 0) {
    const bool no_bytes_yet = errno == EAGAIN || errno == EWOULDBLOCK;
    // A spurious wake-up waits for the next edge, unless no edge can follow.
    if (no_bytes_yet && peer == Peer::Open) return false;
    *outcome = no_bytes_yet && peer == Peer::Finished ? PeekOutcome::Closed : PeekOutcome::Error;
  } else if (peeked == 0) {
    *outcome = PeekOutcome::Closed;
  } else {
    scan = sid_workers_ != 0
               ? scan_session_id(static_cast<size_t>(peeked))
               : scan_head(buffer_.data(), static_cast<size_t>(peeked), header_lower_.data(),
                           header_lower_.size(), limit_, rules_);
    if (scan.status == HeadStatus::NeedMore) {
      // The rest of the head can only arrive on a later edge, and after the
      // peer's FIN or reset there is none: its head will never be complete.
      if (peer == Peer::Open) return false;
      *outcome = peer == Peer::Finished ? PeekOutcome::Closed : PeekOutcome::Error;
    } else {
      *outcome = outcome_of(scan.status);
      if (*outcome == PeekOutcome::Found) {
        std::memcpy(found_address_, scan.address, sizeof found_address_);
        *address = found_address_;
      }
    }
  }
  return true;
}

void Peeker::read_session_ids(const uint8_t key[16], size_t workers) {
  std::memcpy(sid_key_, key, sizeof sid_key_);
  sid_workers_ = workers;
}

HeadScan Peeker::scan_session_id(size_t peeked) const {
  const SidScan sid = scan_sid(buffer_.data(), peeked, sid_key_, sid_workers_, limit_);
  HeadScan scan{};
  switch (sid.status) {
    case SidStatus::NeedMore: scan.status = HeadStatus::NeedMore; break;
    case SidStatus::Found:
      scan.status = HeadStatus::Found;
      scan.address[0] = static_cast<uint8_t>(sid.worker >> 8);
      scan.address[1] = static_cast<uint8_t>(sid.worker);
      break;
    case SidStatus::None: scan.status = HeadStatus::Missing; break;
    case SidStatus::NotHttp: scan.status = HeadStatus::NotHttp; break;
    case SidStatus::TooLarge: scan.status = HeadStatus::TooLarge; break;
  }
  return scan;
}

void Peeker::close() {
  if (closed()) return;
  ::close(event_fd_);
  event_fd_ = -1;
  ready_next_ = ready_count_ = 0;
}

}  // namespace sticky

#endif  // STICKY_HAVE_PEEKER
