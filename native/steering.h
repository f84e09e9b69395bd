// Kernel steering (Linux): an SO_REUSEPORT group of listening sockets, one per
// worker, whose classic BPF program picks the member from a keyed hash of the
// packet's source address. Plain C++: no N-API types.
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sticky {

// The most members a group may have (the workers option allows no more).
constexpr int kMaxGroupMembers = 1024;

// The classic BPF program that returns hash(source address) mod `count`:
// IPv4 and IPv6 packets (so a dual-stack `::` group), hashed with constants
// derived from the 16-byte `key`. `count` is 1..kMaxGroupMembers.
std::vector<sock_filter> build_steering_program(int count, const uint8_t key[16]);

// What a failed create_group did last, and the errno it got.
struct SteeringError {
  int code = 0;
  std::string step;
  // The host is not an IP literal (code is EINVAL): a caller's mistake.
  bool bad_host = false;
};

struct SteeringGroup {
  // Member i is the socket the program's index i selects.
  std::vector<int> fds;
  uint16_t port = 0;
  // The address bound, as text ("::", "127.0.0.1"), and its family.
  std::string address;
  bool ipv6 = false;
};

// Binds `count` listening sockets (close-on-exec, backlog 511) to host:port in
// one group and attaches the steering program. `host`: an IPv4 or IPv6
// literal (a zone id allowed); "" means every address, `::` dual-stack where
// the kernel has IPv6, else 0.0.0.0; "localhost" means 127.0.0.1. `port` 0
// binds a free port for all members. On failure everything opened is closed.
bool create_group(const std::string& host, int port, int count, const uint8_t key[16],
                  SteeringGroup* group, SteeringError* error);

// Whether this kernel attaches the program to a group: probed once with a
// one-member group on 127.0.0.1, then remembered.
bool steering_available();

}  // namespace sticky
