// A connection's first bytes as received so far, copied out of its socket
// without consuming them (MSG_PEEK), for a scanner to decide on.
//
// Peeking the whole receive queue on every readiness costs the kernel time
// proportional to the queued segments, so a client that sends its head one
// byte per segment makes the primary's work grow with the square of the head.
// Where the kernel lets a TCP socket peek at an offset (SO_PEEK_OFF, Linux 6.9
// and later), each peek here returns only the bytes that arrived since the
// last one and appends them to the copy: linear in the bytes received however
// they are segmented. Elsewhere (the kernel refuses the option) each peek
// takes the whole queue again from its start. Plain C++, no N-API: the Peeker,
// the Dispatcher, the tests and the fuzzers call it alike.
#ifndef STICKY_HEAD_COPY_H
#define STICKY_HEAD_COPY_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sticky {

// How connections are peeked at: src/peek-mode.ts reads STICKY_PEEK, for
// tests and benchmarks (docs/internals.md), and passes it down.
enum class PeekMode {
  // Only the new bytes where the kernel allows it (else the whole queue), and
  // a connection still undecided after a few readinesses is parked (peeker.h).
  Offset,
  // As on a kernel without SO_PEEK_OFF for TCP: the whole queue, parked as Offset.
  NoOffset,
  // The whole queue on every readiness, never parked: the behaviour before
  // offsets and parking, kept as the control that shows what they save.
  Whole,
};

enum class PeekStatus {
  Bytes,    // data() and size() hold the head so far; grew() says whether it changed
  Nothing,  // no byte has arrived since the last peek (EAGAIN)
  End,      // the peer finished sending: data() holds all it sent, up to the limit
  Failed,   // the socket failed (errno says why)
};

class HeadCopy {
 public:
  // Copies at most `limit` (> 0) bytes. `scratch` (`limit` bytes, shared by
  // every copy of one owner) receives each peek; a copy whose socket cannot
  // peek at an offset keeps no bytes of its own, and then data() points into
  // `scratch` until the next peek of any copy sharing it.
  HeadCopy(size_t limit, uint8_t* scratch);

  // Starts copying `fd` from its first byte: with a peek offset in Offset mode
  // where the kernel has it (then linear() is true). Returns 0 or the errno
  // of setting the offset when it failed for another reason than the kernel
  // not supporting it for this socket.
  int start(int fd, PeekMode mode);
  // Peeks at what arrived since the last call (the whole queue when not
  // linear). Once `limit` bytes are copied, nothing more is peeked: Bytes
  // with grew() false, or End after the peer's FIN.
  PeekStatus peek(int fd);
  // The socket leaves as it came: peeking from the front, for whoever reads it next.
  void stop(int fd);

  const uint8_t* data() const { return linear_ ? bytes_.data() : whole_; }
  size_t size() const { return linear_ ? bytes_.size() : whole_size_; }
  bool grew() const { return grew_; }
  bool linear() const { return linear_; }

 private:
  size_t limit_;
  uint8_t* scratch_;
  bool linear_ = false;
  bool grew_ = false;
  std::vector<uint8_t> bytes_;      // linear: the head so far
  const uint8_t* whole_ = nullptr;  // not linear: the last peek, in scratch_
  size_t whole_size_ = 0;
};

}  // namespace sticky

#endif  // STICKY_HEAD_COPY_H
