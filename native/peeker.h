// A set of accepted sockets whose request heads the primary inspects without
// consuming them: on readiness it peeks (MSG_PEEK) at the bytes received so far
// and runs scan_head, until the head decides where the connection goes.
// Plain C++: the N-API glue in napi/head_peeker.cc drives it from one uv_poll_t on
// event_fd().
#ifndef STICKY_PEEKER_H
#define STICKY_PEEKER_H

#if defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__) || \
    defined(__OpenBSD__) || defined(__NetBSD__) || defined(__DragonFly__)
#define STICKY_HAVE_PEEKER 1
#endif

#ifdef STICKY_HAVE_PEEKER

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cidr.h"
#include "http_head.h"

namespace sticky {

enum class PeekOutcome { Found, Missing, Invalid, NotHttp, TooLarge, Closed, Error };

// Receives one decided socket. `address` holds 16 bytes, meaningful for Found:
// the client address, or after read_session_ids() the worker index the
// session id names (big-endian, in its first two bytes, as the id carries it).
// With session ids, Missing stands for "no valid session id".
using PeekReport = void (*)(void* context, int fd, PeekOutcome outcome,
                            const uint8_t* address);

class Peeker {
 public:
  // Peeks at most `limit` (> 0) bytes, which scan_head also takes as its limit,
  // with the header's format and pick; `trusted` serves AddressPick::RightmostUntrusted.
  Peeker(std::string header_lower, size_t limit, HeaderFormat format, AddressPick pick, CidrSet trusted);
  ~Peeker();
  Peeker(const Peeker&) = delete;
  Peeker& operator=(const Peeker&) = delete;

  // errno from creating the event queue; 0 when the peeker is usable.
  int open_error() const { return open_error_; }
  // The event queue itself: readable while a watched socket has news.
  int event_fd() const { return event_fd_; }
  bool closed() const { return event_fd_ < 0; }

  // Peeks once at a socket not yet watched: when the bytes already there
  // decide it, reports it and returns true (no event queue round trip, the
  // common case for a client that sends its request right after connecting);
  // otherwise returns false and the caller watches it.
  bool decide_now(int fd, PeekReport report, void* context);
  // Edge-triggered: a socket that already holds bytes reports at once.
  // Returns 0 or an errno; watching a watched socket again is a no-op.
  int watch(int fd);
  // Idempotent. Also drops a readiness already taken but not yet reported,
  // so a report callback may unwatch other sockets safely.
  void unwatch(int fd);
  // Takes every ready socket and reports each one that is decided; a socket
  // whose head is still incomplete stays watched until its next edge. The
  // report callback may call watch, unwatch or close.
  void drain(PeekReport report, void* context);
  // Idempotent; a drain in progress stops after the current report.
  void close();
  // From now on decide by the Engine.IO session id in the request line
  // (scan_sid, native/sid.h) instead of the header.
  void read_session_ids(const uint8_t key[16], size_t workers);

 private:
  // What the readiness says of the peer: no more bytes can follow unless Open.
  enum class Peer { Open, Finished, Broken };
  struct Ready {
    int fd;  // -1 once unwatched during the drain that took it
    Peer peer;
  };
  static constexpr size_t kBatch = 64;

  // What the bytes received so far decide, with the address for Found in
  // `address`; false while they decide nothing and more may follow.
  bool inspect(int fd, Peer peer, PeekOutcome* outcome, const uint8_t** address);
  size_t take_ready();
  void forget(int fd);
  HeadScan scan_session_id(size_t peeked) const;

  int event_fd_ = -1;
  int open_error_ = 0;
  std::string header_lower_;
  size_t limit_;
  CidrSet trusted_;
  HeadRules rules_;  // points at trusted_
  std::vector<uint8_t> buffer_;  // one peek buffer of limit_ bytes, reused
  uint8_t found_address_[16] = {};  // what the last inspect found, until the next
  uint8_t sid_key_[16] = {};
  size_t sid_workers_ = 0;       // 0: decide by the header
  Ready ready_[kBatch];
  size_t ready_next_ = 0;        // first entry of ready_ not yet inspected
  size_t ready_count_ = 0;
};

}  // namespace sticky

#endif  // STICKY_HAVE_PEEKER
#endif  // STICKY_PEEKER_H
