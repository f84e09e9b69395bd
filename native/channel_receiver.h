// The worker's end of a native channel (transport 'channel'): receives the
// batches of accepted sockets the primary's Dispatcher sends. Plain C++: the
// N-API glue in napi/channel_receiver.cc drives receive() from one uv_poll_t on fd().
#ifndef STICKY_CHANNEL_RECEIVER_H
#define STICKY_CHANNEL_RECEIVER_H

#include "channel_format.h"

#ifdef STICKY_HAVE_CHANNEL

#include <vector>

namespace sticky {

class ChannelReceiver {
 public:
  // Takes ownership of `fd`, makes it nonblocking and close-on-exec (so this
  // worker's own children do not keep the channel open). 0 or an errno in open_error().
  explicit ChannelReceiver(int fd);
  ~ChannelReceiver();
  ChannelReceiver(const ChannelReceiver&) = delete;
  ChannelReceiver& operator=(const ChannelReceiver&) = delete;

  int open_error() const { return open_error_; }
  int fd() const { return fd_; }
  bool closed() const { return fd_ < 0; }

  // Appends every descriptor waiting now (at most kMessagesPerReceive
  // messages' worth), each close-on-exec, and to `peers` its record (family 0
  // where the message carried none). False once the primary has gone (end of
  // file or an error): the caller closes.
  bool receive(std::vector<int>* fds, std::vector<ChannelPeerRecord>* peers);
  // Idempotent.
  void close();

  static constexpr int kMessagesPerReceive = 64;

 private:
  int fd_;
  int open_error_ = 0;
};

}  // namespace sticky

#endif  // STICKY_HAVE_CHANNEL
#endif  // STICKY_CHANNEL_RECEIVER_H
