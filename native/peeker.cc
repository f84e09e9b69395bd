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
#include <sys/timerfd.h>
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
               CidrSet trusted, PeekMode mode)
    : mode_(mode),
      header_lower_(std::move(header_lower)),
      limit_(limit),
      trusted_(std::move(trusted)),
      rules_{format, pick, &trusted_},
      buffer_(limit) {
#ifdef __linux__
  event_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (event_fd_ < 0) {
    open_error_ = errno;
    return;
  }
  if (mode_ == PeekMode::Whole) return;  // never parks
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = timer_fd_;
  if (timer_fd_ < 0 || epoll_ctl(event_fd_, EPOLL_CTL_ADD, timer_fd_, &event) != 0) {
    open_error_ = errno;
    close();
  }
#else
  // No revisit timer here: sockets are peeked at on every readiness, never parked.
  event_fd_ = kqueue();
  if (event_fd_ >= 0) fcntl(event_fd_, F_SETFD, FD_CLOEXEC);
  if (event_fd_ < 0) open_error_ = errno;
#endif
}

Peeker::~Peeker() { close(); }

int Peeker::watch(int fd, bool trusted_peer) {
  if (closed()) return EBADF;
  if (watches_.count(fd) != 0) return 0;
  Watch& watch = watches_.emplace(fd, Watch{HeadCopy(limit_, buffer_.data()), trusted_peer}).first->second;
  int error = watch.copy.start(fd, mode_);
  if (error == 0) {
#ifdef __linux__
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    event.data.fd = fd;
    if (epoll_ctl(event_fd_, EPOLL_CTL_ADD, fd, &event) != 0) error = errno;
#else
    struct kevent change;
    EV_SET(&change, fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, 0);
    if (kevent(event_fd_, &change, 1, nullptr, 0, nullptr) != 0) error = errno;
#endif
  }
  if (error != 0) {
    watch.copy.stop(fd);
    watches_.erase(fd);
  }
  return error;
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
  const auto found = watches_.find(fd);
  if (found == watches_.end()) return;
  found->second.copy.stop(fd);
  if (found->second.parked) {
    for (size_t i = 0; i < parked_.size(); ++i) {
      if (parked_[i] != fd) continue;
      parked_[i] = parked_.back();
      parked_.pop_back();
      break;
    }
    if (parked_.empty()) set_timer(false);
  }
  watches_.erase(found);
}

void Peeker::park(int fd, Watch& watch) {
#ifdef __linux__
  // Only the peer's end or an error wakes us now; new bytes wait for the revisit.
  epoll_event event{};
  event.events = EPOLLRDHUP | EPOLLET;
  event.data.fd = fd;
  if (epoll_ctl(event_fd_, EPOLL_CTL_MOD, fd, &event) != 0) return;
  watch.parked = true;
  parked_.push_back(fd);
  if (parked_.size() == 1) set_timer(true);
#else
  (void)fd;
  (void)watch;
#endif
}

void Peeker::set_timer(bool on) {
#ifdef __linux__
  if (timer_fd_ < 0) return;
  itimerspec spec{};
  if (on) {
    spec.it_interval.tv_nsec = kRevisitMs * 1000000L;
    spec.it_value = spec.it_interval;
  }
  timerfd_settime(timer_fd_, 0, &spec, nullptr);
#else
  (void)on;
#endif
}

void Peeker::revisit(PeekReport report, void* context) {
#ifdef __linux__
  uint64_t ticks;
  while (read(timer_fd_, &ticks, sizeof ticks) < 0 && errno == EINTR) {
  }
#endif
  // Reports may unwatch (and so unpark) any socket: go through a snapshot.
  const std::vector<int> due(parked_);
  for (const int fd : due) {
    if (closed()) return;
    const auto found = watches_.find(fd);
    if (found == watches_.end() || !found->second.parked) continue;
    PeekOutcome outcome;
    const uint8_t* address;
    if (!inspect(fd, found->second, Peer::Open, &outcome, &address)) continue;
    forget(fd);
    report(context, fd, outcome, address);
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

bool Peeker::decide_now(int fd, PeekReport report, void* context, bool trusted_peer) {
  if (closed()) return false;
  // Not watched yet: one peek of the whole queue, which holds all it sent so far.
  ssize_t peeked;
  do {
    peeked = recv(fd, buffer_.data(), limit_, MSG_PEEK | MSG_DONTWAIT);
  } while (peeked < 0 && errno == EINTR);
  PeekOutcome outcome;
  const uint8_t* address = kNoAddress;
  if (peeked < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    outcome = PeekOutcome::Error;
  } else if (peeked == 0) {
    outcome = PeekOutcome::Closed;
  } else if (!decide(buffer_.data(), static_cast<size_t>(peeked), Peer::Open, trusted_peer, &outcome,
                     &address)) {
    return false;
  }
  report(context, fd, outcome, address);
  return true;
}

void Peeker::drain(PeekReport report, void* context) {
  while (!closed()) {
    const size_t taken = take_ready();
    while (ready_next_ < ready_count_ && !closed()) {
      const Ready ready = ready_[ready_next_++];
      if (ready.fd < 0) continue;
      if (ready.fd == timer_fd_) {
        revisit(report, context);
        continue;
      }
      const auto found = watches_.find(ready.fd);
      if (found == watches_.end()) continue;
      Watch& watch = found->second;
      PeekOutcome outcome;
      const uint8_t* address;
      if (!inspect(ready.fd, watch, ready.peer, &outcome, &address)) {
        if (mode_ != PeekMode::Whole && !watch.parked && ++watch.readinesses >= kParkAfter) park(ready.fd, watch);
        continue;
      }
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

bool Peeker::inspect(int fd, Watch& watch, Peer peer, PeekOutcome* outcome, const uint8_t** address) {
  *address = kNoAddress;
  HeadCopy& copy = watch.copy;
  switch (copy.peek(fd)) {
    case PeekStatus::Failed:
      *outcome = PeekOutcome::Error;
      return true;
    case PeekStatus::Nothing:
      // A spurious wake-up waits for the next edge, unless no edge can follow.
      if (peer == Peer::Open) return false;
      *outcome = peer == Peer::Finished ? PeekOutcome::Closed : PeekOutcome::Error;
      return true;
    case PeekStatus::End:
      if (copy.size() == 0) {
        *outcome = PeekOutcome::Closed;
        return true;
      }
      return decide(copy.data(), copy.size(), peer == Peer::Broken ? peer : Peer::Finished, watch.trusted_peer,
                    outcome, address);
    case PeekStatus::Bytes:
      // The same bytes as last time decide nothing new.
      if (!copy.grew() && peer == Peer::Open) return false;
      return decide(copy.data(), copy.size(), peer, watch.trusted_peer, outcome, address);
  }
  return false;
}

bool Peeker::decide(const uint8_t* data, size_t size, Peer peer, bool trusted_peer, PeekOutcome* outcome,
                    const uint8_t** address) {
  if (scanner_ == Scanner::ProxyHeader) {
    if (scan_proxy(data, size, trusted_peer)) {
      *outcome = PeekOutcome::Found;
      return true;
    }
    if (peer == Peer::Open) return false;
    *outcome = peer == Peer::Finished ? PeekOutcome::Closed : PeekOutcome::Error;
    return true;
  }
  const HeadScan scanned = scan(data, size);
  if (scanned.status == HeadStatus::NeedMore) {
    // The rest of the head can only arrive on a later edge, and after the
    // peer's FIN or reset there is none: its head will never be complete.
    if (peer == Peer::Open) return false;
    *outcome = peer == Peer::Finished ? PeekOutcome::Closed : PeekOutcome::Error;
    return true;
  }
  *outcome = outcome_of(scanned.status);
  if (*outcome == PeekOutcome::Found) {
    std::memcpy(found_address_, scanned.address, sizeof found_address_);
    *address = found_address_;
  }
  return true;
}

void Peeker::read_session_ids(const uint8_t key[16], size_t workers) {
  std::memcpy(sid_key_, key, sizeof sid_key_);
  sid_workers_ = workers;
  scanner_ = Scanner::SessionId;
}

void Peeker::read_proxy_headers() { scanner_ = Scanner::ProxyHeader; }

bool Peeker::scan_proxy(const uint8_t* data, size_t size, bool trusted_peer) {
  if (!trusted_peer) {
    // Its signature alone decides: a peer that may not send a header is
    // judged on its first 6 or 12 bytes, however long the header would be.
    const ProxySignature signature = proxy_signature(data, size);
    if (signature == ProxySignature::NeedMore) return false;
    proxy_scan_ = scan_proxy_header(data, size);
    return true;
  }
  proxy_scan_ = scan_proxy_header(data, size);
  return proxy_scan_.status != ProxyStatus::NeedMore;
}

HeadScan Peeker::scan(const uint8_t* data, size_t size) const {
  if (scanner_ == Scanner::Header) {
    return scan_head(data, size, header_lower_.data(), header_lower_.size(), limit_, rules_);
  }
  const SidScan sid = scan_sid(data, size, sid_key_, sid_workers_, limit_);
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
  if (timer_fd_ >= 0) ::close(timer_fd_);
  timer_fd_ = -1;
  ready_next_ = ready_count_ = 0;
  // The sockets are their owners' to close; nothing is peeked at any more.
  watches_.clear();
  parked_.clear();
}

}  // namespace sticky

#endif  // STICKY_HAVE_PEEKER
