// A set of accepted sockets whose request heads the primary inspects without
// consuming them: on readiness it peeks (MSG_PEEK, head_copy.h: only the new
// bytes where the kernel allows) at what was received and runs scan_head (or
// scan_sid), until the head decides where the connection goes.
// A socket still undecided after kParkAfter readinesses is parked (Linux): its
// data readiness is no longer watched, and it is peeked at again every
// kRevisitMs instead, so a client that sends its head a byte per segment costs
// a bounded number of peeks and scans per second, not one per segment.
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
#include <unordered_map>
#include <vector>

#include "cidr.h"
#include "head_copy.h"
#include "http_head.h"
#include "proxy_header.h"

namespace sticky {

enum class PeekOutcome { Found, Missing, Invalid, NotHttp, TooLarge, Closed, Error };

// Receives one decided socket. `address` holds 16 bytes, meaningful for Found:
// the client address, or after read_session_ids() the worker index the
// session id names (big-endian, in its first two bytes, as the id carries it).
// With session ids, Missing stands for "no valid session id". After
// read_proxy_headers(), Found means the first bytes decided and proxy_scan()
// says what they hold.
using PeekReport = void (*)(void* context, int fd, PeekOutcome outcome,
                            const uint8_t* address);

class Peeker {
 public:
  // Peeks at most `limit` (> 0) bytes, which scan_head also takes as its limit,
  // with the header's format and pick; `trusted` serves AddressPick::RightmostUntrusted.
  // `mode` as peek_mode_from_environment() read it.
  Peeker(std::string header_lower, size_t limit, HeaderFormat format, AddressPick pick, CidrSet trusted,
         PeekMode mode);
  ~Peeker();
  Peeker(const Peeker&) = delete;
  Peeker& operator=(const Peeker&) = delete;

  // Readinesses of one socket without a decision before it is parked, and
  // how often a parked socket is peeked at.
  static constexpr int kParkAfter = 8;
  static constexpr int kRevisitMs = 50;

  // errno from creating the event queue; 0 when the peeker is usable.
  int open_error() const { return open_error_; }
  // The event queue itself: readable while a watched socket has news.
  int event_fd() const { return event_fd_; }
  bool closed() const { return event_fd_ < 0; }

  // Peeks once at a socket not yet watched: when the bytes already there
  // decide it, reports it and returns true (no event queue round trip, the
  // common case for a client that sends its request right after connecting);
  // otherwise returns false and the caller watches it. `trusted_peer`: the
  // peer may send a PROXY header (read_proxy_headers()).
  bool decide_now(int fd, PeekReport report, void* context, bool trusted_peer = false);
  // Edge-triggered: a socket that already holds bytes reports at once.
  // Returns 0 or an errno; watching a watched socket again is a no-op.
  int watch(int fd, bool trusted_peer = false);
  // Idempotent. Also drops a readiness already taken but not yet reported,
  // so a report callback may unwatch other sockets safely.
  void unwatch(int fd);
  // Takes every ready socket and reports each one that is decided; a socket
  // whose head is still incomplete stays watched until its next edge (or,
  // parked, its next revisit). The report callback may call watch, unwatch or close.
  void drain(PeekReport report, void* context);
  // Idempotent; a drain in progress stops after the current report.
  void close();
  // From now on decide by the Engine.IO session id in the request line
  // (scan_sid, native/sid.h) instead of the header.
  void read_session_ids(const uint8_t key[16], size_t workers);
  // From now on decide by a PROXY protocol header, as src/routing/proxy-protocol.ts
  // does: a trusted peer's whole header (scan_proxy_header), an untrusted
  // peer's signature alone (proxy_signature): NotProxy as soon as its bytes
  // cannot start one, and as soon as they hold one, whatever follows.
  void read_proxy_headers();
  // What the last Found report's bytes hold (read_proxy_headers()): never
  // NeedMore from a trusted peer; from an untrusted one, NotProxy or what the
  // bytes seen so far make of the header its signature started.
  const ProxyScan& proxy_scan() const { return proxy_scan_; }

 private:
  // What the readiness says of the peer: no more bytes can follow unless Open.
  enum class Peer { Open, Finished, Broken };
  struct Ready {
    int fd;  // -1 once unwatched during the drain that took it
    Peer peer;
  };
  // A watched socket: what it has sent so far.
  struct Watch {
    HeadCopy copy;
    bool trusted_peer;
    int readinesses = 0;
    bool parked = false;
  };
  enum class Scanner { Header, SessionId, ProxyHeader };
  static constexpr size_t kBatch = 64;

  // What `copy` holds after one more peek decides, with the address for
  // Found in `address`; false while it decides nothing and more may follow.
  bool inspect(int fd, Watch& watch, Peer peer, PeekOutcome* outcome, const uint8_t** address);
  // What the bytes received decide; false for need-more while the peer is open.
  bool decide(const uint8_t* data, size_t size, Peer peer, bool trusted_peer, PeekOutcome* outcome,
              const uint8_t** address);
  size_t take_ready();
  void forget(int fd);
  HeadScan scan(const uint8_t* data, size_t size) const;
  // Routing 'proxy-protocol': true (with proxy_scan_ set) when the bytes decide.
  bool scan_proxy(const uint8_t* data, size_t size, bool trusted_peer);
  void park(int fd, Watch& watch);
  // The revisit tick: peeks at every parked socket.
  void revisit(PeekReport report, void* context);
  void set_timer(bool on);

  int event_fd_ = -1;
  int timer_fd_ = -1;  // ticks every kRevisitMs while a socket is parked (Linux)
  int open_error_ = 0;
  PeekMode mode_;
  std::unordered_map<int, Watch> watches_;
  std::vector<int> parked_;
  std::string header_lower_;
  size_t limit_;
  CidrSet trusted_;
  HeadRules rules_;  // points at trusted_
  std::vector<uint8_t> buffer_;  // one peek buffer of limit_ bytes, every HeadCopy's scratch
  uint8_t found_address_[16] = {};  // what the last inspect found, until the next
  Scanner scanner_ = Scanner::Header;
  uint8_t sid_key_[16] = {};
  size_t sid_workers_ = 0;
  ProxyScan proxy_scan_{};
  Ready ready_[kBatch];
  size_t ready_next_ = 0;        // first entry of ready_ not yet inspected
  size_t ready_count_ = 0;
};

}  // namespace sticky

#endif  // STICKY_HAVE_PEEKER
#endif  // STICKY_PEEKER_H
