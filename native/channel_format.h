// The native channel's wire format, shared by its two ends: the primary's
// Dispatcher (dispatcher.h) sends, the worker's ChannelReceiver
// (channel_receiver.h) receives. Each message on the SOCK_SEQPACKET channel
// carries descriptors in SCM_RIGHTS and, as its payload, the header and records below.
#ifndef STICKY_CHANNEL_FORMAT_H
#define STICKY_CHANNEL_FORMAT_H

// Linux only: the Dispatcher needs epoll, timerfd and accept4, the receiver
// MSG_CMSG_CLOEXEC.
#ifdef __linux__
#define STICKY_HAVE_CHANNEL 1
#endif

#include <cstddef>
#include <cstdint>

namespace sticky {

// One message on a channel: a fixed header, then one ChannelPeerRecord per
// descriptor, in the order of the descriptors in SCM_RIGHTS.
struct ChannelBatchHeader {
  uint32_t version;  // kChannelFormat
  uint32_t count;    // descriptors carried in SCM_RIGHTS
};
constexpr uint32_t kChannelFormat = 2;

// The client a PROXY header named, which the worker's socket reports as its
// remote end instead of the proxy's address.
struct ChannelPeerRecord {
  uint8_t address[16];  // canonical: IPv4 as ::ffff:a.b.c.d
  uint16_t port;        // host order: both ends are on one machine
  uint8_t family;       // 4 or 6; 0: none, the socket keeps its own peer
  uint8_t padding;
};
static_assert(sizeof(ChannelPeerRecord) == 20, "the channel's record layout");
// SCM_MAX_FD in the kernel: more descriptors in one message fail with EINVAL.
constexpr size_t kMaxFdsPerMessage = 253;

}  // namespace sticky

#endif  // STICKY_CHANNEL_FORMAT_H
