// The primary's native data path (transport 'channel'): accepts on its own
// listening socket, routes each connection by any routing key (client
// address, forwarded header, PROXY protocol header, Engine.IO session id),
// answers the rejected ones, and passes the rest to their workers in batches
// over private SOCK_SEQPACKET channels (SCM_RIGHTS, channel_format.h), each
// with the client a PROXY header named, if any. No JavaScript runs per
// connection. Plain C++: the N-API glue in napi/dispatcher.cc drives
// on_ready() from one uv_poll_t on event_fd(). Linux only (epoll, timerfd, accept4).
#ifndef STICKY_DISPATCHER_H
#define STICKY_DISPATCHER_H

#include "channel_format.h"

#ifdef STICKY_HAVE_CHANNEL

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "head_copy.h"
#include "peeker.h"
#include "proxy_header.h"
#include "rejections.h"
#include "rendezvous.h"

namespace sticky {

struct DispatcherConfig {
  bool route_by_header = false;
  // Routing 'proxy-protocol' (src/routing/proxy-protocol.ts): a PROXY v1/v2
  // header from a peer in trusted_proxies is consumed and its source routes.
  bool route_by_proxy_header = false;
  // Routing 'sid': a valid Engine.IO session id (native/sid.h, keyed with
  // sid_key) names the worker; requests without one go by peer address, or to
  // the least-loaded live worker with sid_least_loaded.
  bool route_by_session_id = false;
  uint8_t sid_key[16] = {};
  bool sid_least_loaded = false;
  std::string header_lower;
  std::string header;  // as the user wrote it, for the text of a 400
  bool ignore_missing_header = false;
  HeaderFormat header_format = HeaderFormat::List;
  AddressPick address_pick = AddressPick::Leftmost;
  CidrSet trusted_proxies;  // for AddressPick::RightmostUntrusted and PROXY headers
  size_t head_limit = 16384;
  uint32_t head_timeout_ms = 10000;
  size_t workers = 1;
  size_t queue_limit = 4096;
  uint8_t secret[16] = {};
  PeekMode peek_mode = PeekMode::Offset;
};

struct BoundAddress {
  std::string address;  // numeric text, as Node's server.address() gives it
  bool ipv6 = false;
  int port = 0;
};

class Dispatcher {
 public:
  explicit Dispatcher(const DispatcherConfig& config);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // errno from creating the event set, timer or peeker; 0 when usable.
  int open_error() const { return open_error_; }
  // One epoll set holding everything: readable whenever on_ready has work.
  int event_fd() const { return epoll_fd_; }
  bool listening() const { return listen_fd_ >= 0; }
  bool closed() const { return epoll_fd_ < 0; }

  // Binds a numeric IPv4 or IPv6 host ("::" is dual-stack) and listens.
  // Returns 0 or an errno (EINVAL for a host that is not an address literal).
  int listen(const std::string& host, int port, BoundAddress* bound);
  // Opens a new channel to worker `index` and stores the worker's end
  // (close-on-exec) in `worker_end`. 0 or an errno. While the index's worker
  // is live the new channel is a replacement's: it waits, and takes over the
  // index at the next set_state(index, live) (the replacement is ready),
  // unless the replacement died by then. Otherwise it takes over at once.
  int open_channel(size_t index, int* worker_end);
  void set_state(size_t index, bool live, bool starting);
  // Worker `index` reported its load: until the next report, its load is
  // that plus the handshakes placed on it since.
  void set_load(size_t index, uint64_t load);
  // One wake-up: accepts, peeks, sweeps head timeouts, then flushes every
  // worker's batch. Never blocks; each part is bounded.
  void on_ready();
  // Idempotent: closes the listening socket, every channel's primary end and
  // every connection not yet handed over.
  void close();

  const std::vector<uint64_t>& routed() const { return routed_; }
  const uint64_t* rejected() const { return rejected_; }
  // Accepted and not yet handed over: peeking, waiting for a worker, or queued.
  size_t pending() const;

 private:
  struct Queued {
    int fd;
    uint64_t hash;
    ChannelPeerRecord peer;
  };
  struct Channel {
    int fd = -1;           // the primary's end
    bool blocked = false;  // full: waiting for EPOLLOUT
    std::deque<Queued> queue;
    int replacement_fd = -1;  // a starting replacement's channel, not yet sent to
  };
  struct Watched {
    int fd;
    uint32_t serial;
    int64_t deadline_ms;
  };

  // A watched socket's head decided (the Peeker's drain).
  static void OnPeeked(void* self, int fd, PeekOutcome outcome, const uint8_t* address);
  // A socket's head decided as it was accepted, before any watching.
  static void OnDecidedNow(void* self, int fd, PeekOutcome outcome, const uint8_t* address);

  void accept_batch();
  // Head mode: watches an accepted socket (edge-triggered) until its head decides.
  int watch_head(int fd, bool trusted_peer);
  void unwatch_head(int fd);
  // Routing 'proxy-protocol': what the peeker found in the first bytes.
  void proxy_decided(int fd, const ProxyScan& scan);
  // Reads and discards the `length` header bytes already peeked at.
  bool consume(int fd, size_t length);
  void peeked(int fd, PeekOutcome outcome, const uint8_t* address);
  // Decides as src/routing/sid.ts does; `worker` as PeekReport has it.
  void session_peeked(int fd, PeekOutcome outcome, const uint8_t* worker);
  bool peer_address(int fd, uint8_t address[16]);
  bool peer_hash(int fd, uint64_t* hash);
  void route_by_peer(int fd);
  // The live worker with the least load, the first after the last one
  // picked among equals; kWaitForWorker when none is live.
  int least_loaded_worker();
  void dispatch(int fd, uint64_t hash, const ChannelPeerRecord& peer = {});
  void enqueue(size_t index, int fd, uint64_t hash, const ChannelPeerRecord& peer = {});
  void flush_all();
  // False when the channel was lost while sending.
  bool flush(size_t index);
  void channel_lost(size_t index);
  // The replacement is ready: its channel takes the index (and its queue);
  // the old worker reads what it was sent, then its end of file.
  void promote_replacement(size_t index);
  void drop_replacement(size_t index);
  void close_channel(Channel& channel);
  // Routes again the connections queued for worker `index`, which no longer takes them.
  void reroute_queue(size_t index);
  // Routes again the connections waiting for any worker.
  void rebalance();
  // A worker takes connections when JS says it is live and its channel is open.
  void refresh_live();
  // Counts `reason` and answers as kRejections has it: its status and text,
  // or no answer where its status is 0; then closes.
  void reject(int fd, Rejection reason);
  void sweep_timeouts();
  void pause_accepting();
  void update_timer();
  void watch_channel(size_t index, bool for_writing);

  DispatcherConfig config_;
  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  int listen_fd_ = -1;
  int open_error_ = 0;
  bool accept_paused_ = false;  // out of descriptors: retried on the next sweep
  bool timer_armed_ = false;
  std::optional<Peeker> peeker_;
  std::vector<Channel> channels_;
  std::vector<uint8_t> live_;                 // as JS last said
  std::unique_ptr<bool[]> effective_live_;     // live_ and a channel open
  std::unique_ptr<bool[]> starting_;
  std::deque<Queued> waiting_;  // no worker to take them yet
  // Sockets being peeked at, oldest first, for the head timeout.
  std::deque<Watched> deadlines_;
  std::vector<uint32_t> watch_serial_;  // by fd; 0 when not watched
  uint32_t next_serial_ = 1;
  size_t watched_ = 0;
  std::vector<uint64_t> routed_;
  std::vector<uint64_t> reported_load_;        // by worker, as set_load last said
  std::vector<uint64_t> placed_since_report_;  // handshakes least_loaded_worker placed since
  size_t least_loaded_next_ = 0;
  uint64_t rejected_[kRejectionCount] = {};
};

}  // namespace sticky

#endif  // STICKY_HAVE_CHANNEL
#endif  // STICKY_DISPATCHER_H
