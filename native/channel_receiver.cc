#include "channel_receiver.h"

#ifdef STICKY_HAVE_CHANNEL

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sticky {

namespace {

constexpr size_t kPayloadRoom = sizeof(ChannelBatchHeader) + sizeof(ChannelPeerRecord) * kMaxFdsPerMessage;

}  // namespace

ChannelReceiver::ChannelReceiver(int fd) : fd_(fd) {
  const int flags = fcntl(fd_, F_GETFL);
  if (flags < 0 || fcntl(fd_, F_SETFL, flags | O_NONBLOCK) != 0 ||
      fcntl(fd_, F_SETFD, FD_CLOEXEC) != 0) {
    open_error_ = errno;
  }
}

ChannelReceiver::~ChannelReceiver() { close(); }

bool ChannelReceiver::receive(std::vector<int>* fds, std::vector<ChannelPeerRecord>* peers) {
  alignas(ChannelPeerRecord) char payload[kPayloadRoom];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  for (int i = 0; i < kMessagesPerReceive && !closed(); ++i) {
    iovec into{payload, sizeof payload};
    msghdr message{};
    message.msg_iov = &into;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t got = recvmsg(fd_, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    // The primary sends no empty message: zero bytes is its end of file.
    if (got == 0) return false;
    ChannelBatchHeader header{};
    if (static_cast<size_t>(got) >= sizeof header) std::memcpy(&header, payload, sizeof header);
    // Records follow the header in descriptor order; the kernel installs a
    // prefix of the descriptors when it cannot install them all, so the k-th
    // received one is still the k-th record's.
    const size_t records = header.version != kChannelFormat
                               ? 0
                               : std::min<size_t>(header.count, (static_cast<size_t>(got) - sizeof header) /
                                                                    sizeof(ChannelPeerRecord));
    size_t position = 0;
    for (cmsghdr* part = CMSG_FIRSTHDR(&message); part != nullptr; part = CMSG_NXTHDR(&message, part)) {
      if (part->cmsg_level != SOL_SOCKET || part->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (part->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t k = 0; k < count; ++k) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(part) + k * sizeof(int), sizeof fd);
        fds->push_back(fd);
        ChannelPeerRecord peer{};
        if (position < records) {
          std::memcpy(&peer, payload + sizeof header + position * sizeof peer, sizeof peer);
        }
        peers->push_back(peer);
        ++position;
      }
    }
  }
  return true;
}

void ChannelReceiver::close() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

}  // namespace sticky

#endif  // STICKY_HAVE_CHANNEL
