#include "dispatcher.h"

#ifdef STICKY_HAVE_CHANNEL

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "siphash.h"

namespace sticky {

namespace {

// What an epoll event is about: the tag in the high half of data.u64, a
// worker index in the low half for channels.
enum Source : uint64_t { kListen = 1, kTimer = 2, kPeeker = 3, kChannel = 4, kReplacement = 5 };

uint64_t event_data(Source source, size_t index = 0) {
  return (static_cast<uint64_t>(source) << 32) | static_cast<uint32_t>(index);
}

// Accepts taken per wake-up, so one busy listener cannot starve the rest;
// the listening socket is level-triggered and wakes us again.
constexpr size_t kAcceptBatch = 256;
constexpr int kEventBatch = 32;
// The primary's send buffer on each channel (the kernel doubles it). A message
// costs about 760 bytes of it plus 20 per descriptor (its ChannelPeerRecord), so
// this holds ~86 small messages and ~11 full ones: a worker
// that stops reading soon shows as a full channel (and its clients queue in
// the primary under queueLimit) instead of hiding hundreds of connections in
// the kernel, while under load each message carries a whole wake-up's batch.
constexpr int kChannelSendBuffer = 32 * 1024;
// How often a paused accept (out of descriptors) is retried.
constexpr int64_t kAcceptRetryMs = 100;
// What a rejected client may have sent that we read and discard before closing.
constexpr int kDiscardReads = 16;
// recv calls allowed to take a PROXY header already peeked at; it is in the
// receive buffer, so one call normally takes it whole.
constexpr int kConsumeReads = 4;

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The client address as docs/internals.md "Canonical address" has it: IPv4
// (and IPv4 seen through a dual-stack socket) as ::ffff:a.b.c.d.
bool canonical_address(const sockaddr_storage& peer, uint8_t out[16]) {
  if (peer.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(peer);
    std::memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, &v4.sin_addr, 4);
    return true;
  }
  if (peer.ss_family == AF_INET6) {
    std::memcpy(out, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, 16);
    return true;
  }
  return false;
}

const char* status_text(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 431: return "Request Header Fields Too Large";
    default: return "Service Unavailable";
  }
}

}  // namespace

Dispatcher::Dispatcher(const DispatcherConfig& config)
    : config_(config),
      channels_(config.workers),
      live_(config.workers, 0),
      effective_live_(new bool[config.workers]()),
      starting_(new bool[config.workers]),
      routed_(config.workers, 0),
      reported_load_(config.workers, 0),
      placed_since_report_(config.workers, 0) {
  // As the worker pool begins: nobody live, everybody starting.
  std::fill(starting_.get(), starting_.get() + config.workers, true);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    open_error_ = errno;
    return;
  }
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = event_data(kTimer);
  if (timer_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, timer_fd_, &event) != 0) {
    open_error_ = errno;
    close();
    return;
  }
  if (config_.route_by_header || config_.route_by_session_id || config_.route_by_proxy_header) {
    // A PROXY header is at most kProxyV2MaxLength bytes: a full peek always decides.
    const size_t limit = config_.route_by_proxy_header ? kProxyV2MaxLength : config_.head_limit;
    peeker_.emplace(config_.header_lower, limit, config_.header_format, config_.address_pick,
                    config_.trusted_proxies, config_.peek_mode);
    if (config_.route_by_session_id) peeker_->read_session_ids(config_.sid_key, config_.workers);
    if (config_.route_by_proxy_header) peeker_->read_proxy_headers();
    event.data.u64 = event_data(kPeeker);
    if (peeker_->open_error() != 0) {
      open_error_ = peeker_->open_error();
      close();
      return;
    }
    // Nested: the peeker's own epoll set is readable while a watched socket has news.
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, peeker_->event_fd(), &event) != 0) {
      open_error_ = errno;
      close();
    }
  }
}

Dispatcher::~Dispatcher() { close(); }

int Dispatcher::listen(const std::string& host, int port, BoundAddress* bound) {
  if (closed()) return EBADF;
  if (listen_fd_ >= 0 || port < 0 || port > 65535) return EINVAL;
  sockaddr_storage address{};
  socklen_t length;
  auto& v4 = reinterpret_cast<sockaddr_in&>(address);
  auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof v6;
  } else {
    return EINVAL;
  }
  const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  const int on = 1, off = 0;
  // As Node's listen: rebinding right after a restart works, and "::" takes IPv4 too.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (address.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = event_data(kListen);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd, 511) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    const int error = errno;
    ::close(fd);
    return error;
  }
  char text[INET6_ADDRSTRLEN] = {};
  bound->ipv6 = address.ss_family == AF_INET6;
  inet_ntop(address.ss_family, bound->ipv6 ? static_cast<void*>(&v6.sin6_addr) : &v4.sin_addr, text,
            sizeof text);
  bound->address = text;
  bound->port = ntohs(bound->ipv6 ? v6.sin6_port : v4.sin_port);
  listen_fd_ = fd;
  return 0;
}

int Dispatcher::open_channel(size_t index, int* worker_end) {
  if (closed()) return EBADF;
  if (index >= channels_.size()) return EINVAL;
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) return errno;
  const int buffer = kChannelSendBuffer;
  Channel& channel = channels_[index];
  const bool replacing = channel.fd >= 0 && live_[index];
  epoll_event event{};
  event.events = 0;  // EPOLLHUP and EPOLLERR come regardless; EPOLLOUT only while full
  event.data.u64 = event_data(replacing ? kReplacement : kChannel, index);
  if (fcntl(ends[0], F_SETFL, O_NONBLOCK) != 0 ||
      setsockopt(ends[0], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer) != 0 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, ends[0], &event) != 0) {
    const int error = errno;
    ::close(ends[0]);
    ::close(ends[1]);
    return error;
  }
  *worker_end = ends[1];
  if (replacing) {
    drop_replacement(index);
    channel.replacement_fd = ends[0];
    return 0;
  }
  // A worker JS no longer counts as live: its queue moves as for a death.
  if (channel.fd >= 0) channel_lost(index);
  channel.fd = ends[0];
  refresh_live();
  flush_all();
  return 0;
}

void Dispatcher::set_state(size_t index, bool live, bool starting) {
  if (closed() || index >= channels_.size()) return;
  if (live && channels_[index].replacement_fd >= 0) promote_replacement(index);
  const bool was_live = effective_live_[index];
  live_[index] = live;
  starting_[index] = starting;
  refresh_live();
  if (was_live && !effective_live_[index]) reroute_queue(index);
  rebalance();
  flush_all();
}

void Dispatcher::refresh_live() {
  for (size_t i = 0; i < channels_.size(); ++i) effective_live_[i] = live_[i] && channels_[i].fd >= 0;
}

void Dispatcher::on_ready() {
  if (closed()) return;
  epoll_event events[kEventBatch];
  int count;
  do {
    count = epoll_wait(epoll_fd_, events, kEventBatch, 0);
  } while (count < 0 && errno == EINTR);
  for (int i = 0; i < count && !closed(); ++i) {
    const uint64_t data = events[i].data.u64;
    switch (static_cast<Source>(data >> 32)) {
      case kListen:
        accept_batch();
        break;
      case kTimer: {
        uint64_t expirations;
        while (read(timer_fd_, &expirations, sizeof expirations) < 0 && errno == EINTR) {
        }
        sweep_timeouts();
        break;
      }
      case kPeeker:
        peeker_->drain(&Dispatcher::OnPeeked, this);
        break;
      case kChannel: {
        const size_t index = static_cast<uint32_t>(data);
        Channel& channel = channels_[index];
        if (channel.fd < 0) break;  // lost earlier in this wake-up
        if (events[i].events & (EPOLLHUP | EPOLLERR)) {
          channel_lost(index);
        } else if (events[i].events & EPOLLOUT) {
          channel.blocked = false;
          watch_channel(index, false);
        }
        break;
      }
      case kReplacement: {
        // A replacement that died starting: the old worker keeps the index.
        const size_t index = static_cast<uint32_t>(data);
        if (events[i].events & (EPOLLHUP | EPOLLERR)) drop_replacement(index);
        break;
      }
    }
  }
  flush_all();
}

void Dispatcher::accept_batch() {
  for (size_t taken = 0; taken < kAcceptBatch && listen_fd_ >= 0; ++taken) {
    sockaddr_storage peer;
    socklen_t length = sizeof peer;
    const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      switch (errno) {
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case EPERM:
          continue;  // that one client is gone or refused; others may wait
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
          // Level-triggered readiness would spin until a descriptor frees up.
          pause_accepting();
          return;
        default:
          return;  // EAGAIN: drained
      }
    }
    uint8_t address[16];
    if (!canonical_address(peer, address)) {
      reject(fd, Rejection::ClosedEarly);
      continue;
    }
    // With the safe pick the peer is the rightmost hop: a client that reaches
    // us itself, not through a trusted proxy, is the client, whatever its
    // header says.
    const bool untrusted_peer = config_.route_by_header &&
                                config_.address_pick == AddressPick::RightmostUntrusted &&
                                !contains(config_.trusted_proxies, address);
    const bool reads_head =
        config_.route_by_header || config_.route_by_session_id || config_.route_by_proxy_header;
    if (!reads_head || untrusted_peer) {
      dispatch(fd, siphash24(config_.secret, address, sizeof address));
      continue;
    }
    // A client usually sends its first bytes right after connecting: they are
    // often here already, and then the socket needs no watching at all.
    const bool trusted_peer = config_.route_by_proxy_header && contains(config_.trusted_proxies, address);
    if (peeker_->decide_now(fd, &Dispatcher::OnDecidedNow, this, trusted_peer)) continue;
    if (watch_head(fd, trusted_peer) != 0) {
      reject(fd, Rejection::ClosedEarly);
      continue;
    }
    if (watch_serial_.size() <= static_cast<size_t>(fd)) watch_serial_.resize(fd + 1, 0);
    const uint32_t serial = next_serial_++;
    if (next_serial_ == 0) next_serial_ = 1;
    watch_serial_[fd] = serial;
    deadlines_.push_back({fd, serial, now_ms() + config_.head_timeout_ms});
    ++watched_;
    update_timer();
  }
}

int Dispatcher::watch_head(int fd, bool trusted_peer) { return peeker_->watch(fd, trusted_peer); }

// Before the socket is handed over or closed: epoll watches the open file,
// which lives on in the worker.
void Dispatcher::unwatch_head(int fd) {
  peeker_->unwatch(fd);
  watch_serial_[fd] = 0;
  --watched_;
}

// Decides as src/routing/proxy-protocol.ts does.
void Dispatcher::proxy_decided(int fd, const ProxyScan& scan) {
  uint8_t peer[16];
  if (!peer_address(fd, peer)) return reject(fd, Rejection::ClosedEarly);
  const uint64_t by_peer = siphash24(config_.secret, peer, sizeof peer);
  if (scan.status == ProxyStatus::NotProxy) return dispatch(fd, by_peer);
  // Anything that could be a header lets its sender pick its own address:
  // only a trusted proxy may send one. The Peeker decided an untrusted peer
  // at its signature, whatever followed it.
  if (!contains(config_.trusted_proxies, peer)) return reject(fd, Rejection::UntrustedProxy);
  if (scan.status == ProxyStatus::Malformed) return reject(fd, Rejection::MalformedProxy);
  if (!consume(fd, scan.header_length)) return reject(fd, Rejection::ClosedEarly);
  if (scan.status == ProxyStatus::Local) return dispatch(fd, by_peer);
  ChannelPeerRecord client{};
  std::memcpy(client.address, scan.source, sizeof client.address);
  client.port = scan.source_port;
  client.family = scan.family;
  dispatch(fd, siphash24(config_.secret, scan.source, sizeof scan.source), client);
}

bool Dispatcher::consume(int fd, size_t length) {
  uint8_t header[kProxyV2MaxLength];
  size_t taken = 0;
  for (int i = 0; i < kConsumeReads && taken < length; ++i) {
    const ssize_t got = recv(fd, header + taken, length - taken, MSG_DONTWAIT);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    taken += static_cast<size_t>(got);
  }
  return taken == length;
}

void Dispatcher::OnPeeked(void* self, int fd, PeekOutcome outcome, const uint8_t* address) {
  Dispatcher* dispatcher = static_cast<Dispatcher*>(self);
  dispatcher->watch_serial_[fd] = 0;
  --dispatcher->watched_;
  dispatcher->peeked(fd, outcome, address);
}

void Dispatcher::OnDecidedNow(void* self, int fd, PeekOutcome outcome, const uint8_t* address) {
  static_cast<Dispatcher*>(self)->peeked(fd, outcome, address);
}

// Decides as src/routing/header.ts does.
void Dispatcher::peeked(int fd, PeekOutcome outcome, const uint8_t* address) {
  if (config_.route_by_session_id) return session_peeked(fd, outcome, address);
  if (config_.route_by_proxy_header) {
    if (outcome == PeekOutcome::Found) return proxy_decided(fd, peeker_->proxy_scan());
    return reject(fd, Rejection::ClosedEarly);
  }
  switch (outcome) {
    case PeekOutcome::Found:
      dispatch(fd, siphash24(config_.secret, address, 16));
      return;
    case PeekOutcome::NotHttp:
      route_by_peer(fd);
      return;
    case PeekOutcome::Missing:
      if (config_.ignore_missing_header) return route_by_peer(fd);
      reject(fd, Rejection::MissingHeader);
      return;
    case PeekOutcome::Invalid:
      if (config_.ignore_missing_header) return route_by_peer(fd);
      reject(fd, Rejection::InvalidHeader);
      return;
    case PeekOutcome::TooLarge:
      reject(fd, Rejection::HeadTooLarge);
      return;
    case PeekOutcome::Closed:
    case PeekOutcome::Error:
      reject(fd, Rejection::ClosedEarly);
      return;
  }
}

void Dispatcher::session_peeked(int fd, PeekOutcome outcome, const uint8_t* worker) {
  uint64_t hash;
  switch (outcome) {
    case PeekOutcome::Found: {
      const size_t index = (static_cast<size_t>(worker[0]) << 8) | worker[1];
      if (!peer_hash(fd, &hash)) return reject(fd, Rejection::ClosedEarly);
      // A session whose worker is down died with it: the request goes as a
      // handshake would, and the client reconnects after "Session ID unknown".
      if (!effective_live_[index]) return dispatch(fd, hash);
      return enqueue(index, fd, hash);
    }
    case PeekOutcome::Missing:
    case PeekOutcome::Invalid:
    case PeekOutcome::NotHttp:
    case PeekOutcome::TooLarge:
      // No session yet (a handshake), or nothing a session id can be read from.
      return route_by_peer(fd);
    case PeekOutcome::Closed:
    case PeekOutcome::Error:
      return reject(fd, Rejection::ClosedEarly);
  }
}

bool Dispatcher::peer_address(int fd, uint8_t address[16]) {
  sockaddr_storage peer;
  socklen_t length = sizeof peer;
  return getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0 &&
         canonical_address(peer, address);
}

bool Dispatcher::peer_hash(int fd, uint64_t* hash) {
  uint8_t address[16];
  if (!peer_address(fd, address)) return false;
  *hash = siphash24(config_.secret, address, sizeof address);
  return true;
}

void Dispatcher::route_by_peer(int fd) {
  uint64_t hash;
  if (!peer_hash(fd, &hash)) return reject(fd, Rejection::ClosedEarly);
  dispatch(fd, hash);
}

void Dispatcher::dispatch(int fd, uint64_t hash, const ChannelPeerRecord& peer) {
  const int index = config_.sid_least_loaded
                        ? least_loaded_worker()
                        : route_worker(hash, effective_live_.get(), starting_.get(), channels_.size());
  if (index != kWaitForWorker) return enqueue(static_cast<size_t>(index), fd, hash, peer);
  if (waiting_.size() >= config_.queue_limit) {
    reject(fd, Rejection::QueueFull);
    return;
  }
  waiting_.push_back({fd, hash, peer});
}

int Dispatcher::least_loaded_worker() {
  const size_t workers = channels_.size();
  int best = kWaitForWorker;
  uint64_t best_load = 0;
  for (size_t step = 0; step < workers; ++step) {
    const size_t i = (least_loaded_next_ + step) % workers;
    if (!effective_live_[i]) continue;
    const uint64_t load = reported_load_[i] + placed_since_report_[i];
    if (best == kWaitForWorker || load < best_load) {
      best = static_cast<int>(i);
      best_load = load;
    }
  }
  if (best == kWaitForWorker) return best;
  placed_since_report_[best]++;
  least_loaded_next_ = (static_cast<size_t>(best) + 1) % workers;
  return best;
}

void Dispatcher::set_load(size_t index, uint64_t load) {
  if (index >= channels_.size()) return;
  reported_load_[index] = load;
  placed_since_report_[index] = 0;
}

void Dispatcher::enqueue(size_t index, int fd, uint64_t hash, const ChannelPeerRecord& peer) {
  Channel& channel = channels_[index];
  // A channel that takes messages empties its queue at the end of this
  // wake-up; only a full one makes connections wait, up to queueLimit.
  if (channel.blocked && channel.queue.size() >= config_.queue_limit) {
    reject(fd, Rejection::QueueFull);
    return;
  }
  channel.queue.push_back({fd, hash, peer});
}

void Dispatcher::flush_all() {
  // A channel lost while sending moves its queue onto others, which may have
  // been flushed already in this pass: go again. Each pass loses a channel or ends.
  for (size_t pass = 0; pass <= channels_.size(); ++pass) {
    bool lost = false;
    for (size_t i = 0; i < channels_.size(); ++i) {
      const Channel& channel = channels_[i];
      if (channel.fd >= 0 && !channel.blocked && !channel.queue.empty() && !flush(i)) lost = true;
    }
    if (!lost) return;
  }
}

bool Dispatcher::flush(size_t index) {
  Channel& channel = channels_[index];
  int fds[kMaxFdsPerMessage];
  ChannelPeerRecord peers[kMaxFdsPerMessage];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)];
  while (!channel.queue.empty()) {
    const size_t count = std::min(channel.queue.size(), kMaxFdsPerMessage);
    for (size_t i = 0; i < count; ++i) {
      fds[i] = channel.queue[i].fd;
      peers[i] = channel.queue[i].peer;
    }
    ChannelBatchHeader header{kChannelFormat, static_cast<uint32_t>(count)};
    iovec payload[2] = {{&header, sizeof header}, {peers, sizeof(ChannelPeerRecord) * count}};
    msghdr message{};
    message.msg_iov = payload;
    message.msg_iovlen = 2;
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    cmsghdr* rights = CMSG_FIRSTHDR(&message);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof(int) * count);
    std::memcpy(CMSG_DATA(rights), fds, sizeof(int) * count);
    ssize_t sent;
    do {
      sent = sendmsg(channel.fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent >= 0) {
      // The message holds its own references: the primary's copies go.
      for (size_t i = 0; i < count; ++i) ::close(fds[i]);
      channel.queue.erase(channel.queue.begin(), channel.queue.begin() + count);
      routed_[index] += count;
      continue;
    }
    switch (errno) {
      case EAGAIN:
        channel.blocked = true;
        watch_channel(index, true);
        return true;
      case EPIPE:
      case ECONNRESET:
      case ENOTCONN:
        channel_lost(index);
        return false;
      default:
        // ETOOMANYREFS, ENOBUFS, ENOMEM: this batch cannot travel now, and
        // no readiness will say when it can; turn it away rather than stall.
        for (size_t i = 0; i < count; ++i) {
          reject(fds[i], Rejection::QueueFull);
        }
        channel.queue.erase(channel.queue.begin(), channel.queue.begin() + count);
    }
  }
  return true;
}

void Dispatcher::channel_lost(size_t index) {
  close_channel(channels_[index]);
  refresh_live();
  reroute_queue(index);
}

void Dispatcher::promote_replacement(size_t index) {
  Channel& channel = channels_[index];
  const int replacement = channel.replacement_fd;
  pollfd probe{replacement, 0, 0};
  // The replacement may have died after saying it was ready.
  if (poll(&probe, 1, 0) < 0 || (probe.revents & (POLLHUP | POLLERR))) return drop_replacement(index);
  channel.replacement_fd = -1;
  close_channel(channel);
  channel.fd = replacement;
  watch_channel(index, false);
  refresh_live();
}

void Dispatcher::drop_replacement(size_t index) {
  Channel& channel = channels_[index];
  if (channel.replacement_fd < 0) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, channel.replacement_fd, nullptr);
  ::close(channel.replacement_fd);
  channel.replacement_fd = -1;
}

void Dispatcher::reroute_queue(size_t index) {
  std::deque<Queued> moved;
  moved.swap(channels_[index].queue);
  for (const Queued& queued : moved) dispatch(queued.fd, queued.hash, queued.peer);
}

void Dispatcher::rebalance() {
  std::deque<Queued> waiting;
  waiting.swap(waiting_);
  for (const Queued& queued : waiting) dispatch(queued.fd, queued.hash, queued.peer);
}

void Dispatcher::close_channel(Channel& channel) {
  if (channel.fd < 0) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, channel.fd, nullptr);
  ::close(channel.fd);
  channel.fd = -1;
  channel.blocked = false;
}

void Dispatcher::watch_channel(size_t index, bool for_writing) {
  epoll_event event{};
  event.events = for_writing ? static_cast<uint32_t>(EPOLLOUT) : 0u;
  event.data.u64 = event_data(kChannel, index);
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, channels_[index].fd, &event);
}

void Dispatcher::reject(int fd, Rejection reason) {
  ++rejected_[static_cast<size_t>(reason)];
  const int status = rejection_info(reason).status;
  if (status == 0) {
    ::close(fd);
    return;
  }
  const std::string body = rejection_message(reason, config_.header, config_.head_limit) + "\n";
  const std::string response = "HTTP/1.1 " + std::to_string(status) + " " + status_text(status) +
                               "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  // A fresh socket's send buffer takes this whole; if not, the client gets less.
  send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  shutdown(fd, SHUT_WR);
  // Closing with unread input sends a reset, which can destroy the answer in
  // flight: read what has come so far.
  char discard[16384];
  for (int i = 0; i < kDiscardReads; ++i) {
    const ssize_t got = recv(fd, discard, sizeof discard, MSG_DONTWAIT);
    if (got == 0 || (got < 0 && errno != EINTR)) break;
  }
  ::close(fd);
}

void Dispatcher::sweep_timeouts() {
  if (accept_paused_ && listen_fd_ >= 0) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = event_data(kListen);
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &event);
    accept_paused_ = false;
  }
  const int64_t now = now_ms();
  while (!deadlines_.empty()) {
    const Watched& oldest = deadlines_.front();
    const bool current = watch_serial_[oldest.fd] == oldest.serial;
    if (current && oldest.deadline_ms > now) break;
    if (current) {
      unwatch_head(oldest.fd);
      reject(oldest.fd, Rejection::HeadTimeout);
    }
    deadlines_.pop_front();
  }
  update_timer();
}

void Dispatcher::pause_accepting() {
  epoll_event event{};
  event.events = 0;
  event.data.u64 = event_data(kListen);
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &event);
  accept_paused_ = true;
  update_timer();
}

// The timer runs only while a head may time out or accepting is paused.
void Dispatcher::update_timer() {
  const bool wanted = !deadlines_.empty() || accept_paused_;
  if (wanted == timer_armed_ || timer_fd_ < 0) return;
  // Head timeouts fire within an eighth of the timeout (at least 10 ms, at most 1 s) late.
  int64_t interval = std::clamp<int64_t>(config_.head_timeout_ms / 8, 10, 1000);
  if (accept_paused_) interval = std::min(interval, kAcceptRetryMs);
  itimerspec spec{};
  if (wanted) {
    spec.it_interval.tv_sec = interval / 1000;
    spec.it_interval.tv_nsec = (interval % 1000) * 1000000;
    spec.it_value = spec.it_interval;
  }
  timerfd_settime(timer_fd_, 0, &spec, nullptr);
  timer_armed_ = wanted;
}

size_t Dispatcher::pending() const {
  size_t queued = watched_ + waiting_.size();
  for (const Channel& channel : channels_) queued += channel.queue.size();
  return queued;
}

void Dispatcher::close() {
  if (closed()) return;
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  for (const Watched& watched : deadlines_) {
    if (watch_serial_[watched.fd] != watched.serial) continue;
    watch_serial_[watched.fd] = 0;
    ::close(watched.fd);
  }
  deadlines_.clear();
  watched_ = 0;
  if (peeker_) peeker_->close();
  for (const Queued& queued : waiting_) ::close(queued.fd);
  waiting_.clear();
  for (Channel& channel : channels_) {
    for (const Queued& queued : channel.queue) ::close(queued.fd);
    channel.queue.clear();
    close_channel(channel);
    drop_replacement(static_cast<size_t>(&channel - channels_.data()));
  }
  if (timer_fd_ >= 0) ::close(timer_fd_);
  timer_fd_ = -1;
  ::close(epoll_fd_);
  epoll_fd_ = -1;
}

}  // namespace sticky

#endif  // STICKY_HAVE_CHANNEL
