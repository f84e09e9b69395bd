#include "steering.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "lowbias32.h"

namespace sticky {
namespace {

constexpr int kBacklog = 511;  // what Node's listen() asks for

// Six constants from the key: the seed, one addend per source word (IPv6 has
// four; IPv4 uses the first), and a final xor. Each goes through lowbias32 so
// that neighbouring keys give unrelated constants.
enum Constant { kSeed, kWord0, kWord1, kWord2, kWord3, kFinal, kConstantCount };

void derive_constants(const uint8_t key[16], uint32_t out[kConstantCount]) {
  uint32_t words[4];
  for (int i = 0; i < 4; i++) {
    words[i] = static_cast<uint32_t>(key[4 * i]) | static_cast<uint32_t>(key[4 * i + 1]) << 8 |
               static_cast<uint32_t>(key[4 * i + 2]) << 16 |
               static_cast<uint32_t>(key[4 * i + 3]) << 24;
  }
  for (uint32_t i = 0; i < kConstantCount; i++) out[i] = lowbias32(words[i % 4] + 0x9e3779b9u * (i + 1));
}

sock_filter insn(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }

// A = lowbias32(A), with X as scratch: the program computes the same function.
void emit_mix(std::vector<sock_filter>& p) {
  const auto xor_shift = [&p](uint32_t shift) {
    p.push_back(insn(BPF_MISC | BPF_TAX, 0));
    p.push_back(insn(BPF_ALU | BPF_RSH | BPF_K, shift));
    p.push_back(insn(BPF_ALU | BPF_XOR | BPF_X, 0));
  };
  xor_shift(kMixShift1);
  p.push_back(insn(BPF_ALU | BPF_MUL | BPF_K, kMixMul1));
  xor_shift(kMixShift2);
  p.push_back(insn(BPF_ALU | BPF_MUL | BPF_K, kMixMul2));
  xor_shift(kMixShift3);
}

// Source address words, as offsets into the network header.
constexpr uint32_t kIpv4Source = 12;
constexpr uint32_t kIpv6Source = 8;

// h = seed; for each 32-bit source word w_i: h = lowbias32(h ^ (w_i + c_i)).
// The running h lives in A between words and in M[0] while a word loads.
void emit_absorb(std::vector<sock_filter>& p, uint32_t offset, int words, const uint32_t c[]) {
  for (int i = 0; i < words; i++) {
    if (i > 0) p.push_back(insn(BPF_ST, 0));
    p.push_back(insn(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(SKF_NET_OFF) + offset + 4 * i));
    p.push_back(insn(BPF_ALU | BPF_ADD | BPF_K, c[kWord0 + i]));
    if (i == 0) {
      p.push_back(insn(BPF_ALU | BPF_XOR | BPF_K, c[kSeed]));
    } else {
      p.push_back(insn(BPF_LDX | BPF_W | BPF_MEM, 0));
      p.push_back(insn(BPF_ALU | BPF_XOR | BPF_X, 0));
    }
    emit_mix(p);
  }
}

int close_keeping_errno(int fd) {
  const int saved = errno;
  const int result = close(fd);
  errno = saved;
  return result;
}

bool fail(SteeringError* error, const char* step, int code) {
  error->code = code;
  error->step = step;
  return false;
}

bool set_flag(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value) == 0;
}

void set_port(sockaddr_storage* address, uint16_t port) {
  if (address->ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(address)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(address)->sin_port = htons(port);
  }
}

uint16_t get_port(const sockaddr_storage& address) {
  return ntohs(address.ss_family == AF_INET6
                   ? reinterpret_cast<const sockaddr_in6&>(address).sin6_port
                   : reinterpret_cast<const sockaddr_in&>(address).sin_port);
}

// A numeric host only: names are resolved by the caller (as net.Server does),
// so this never blocks on DNS.
bool parse_host(const char* host, sockaddr_storage* address, socklen_t* length, SteeringError* error) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host, nullptr, &hints, &found) != 0 || found == nullptr) {
    error->bad_host = true;
    return fail(error, "getaddrinfo", EINVAL);
  }
  std::memcpy(address, found->ai_addr, found->ai_addrlen);
  *length = found->ai_addrlen;
  freeaddrinfo(found);
  return true;
}

// A socket with the options every member (and the port probe) shares.
int open_socket(int family, bool reuse_port, SteeringError* error) {
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) {
    fail(error, "socket", errno);
    return -1;
  }
  // SO_REUSEADDR as Node sets it: a restart need not wait out TIME_WAIT.
  bool ok = set_flag(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (ok && reuse_port) ok = set_flag(fd, SOL_SOCKET, SO_REUSEPORT, 1);
  // `::` takes IPv4 clients too, whatever net.ipv6.bindv6only says.
  if (ok && family == AF_INET6) ok = set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
  if (!ok) {
    fail(error, "setsockopt", errno);
    close_keeping_errno(fd);
    return -1;
  }
  return fd;
}

// A listener of this user with SO_REUSEPORT on the same port would silently
// join our group (and take some of our clients). A plain bind finds any
// listener there and reports EADDRINUSE, as Node's own listen() would.
bool port_is_free(const sockaddr_storage& address, socklen_t length, SteeringError* error) {
  const int fd = open_socket(address.ss_family, false, error);
  if (fd < 0) return false;
  const bool bound = bind(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0;
  if (!bound) fail(error, "bind", errno);
  close_keeping_errno(fd);
  return bound;
}

bool bind_members(const char* host, int port, int count, const uint8_t key[16], SteeringGroup* group,
                  SteeringError* error) {
  sockaddr_storage address{};
  socklen_t length = 0;
  if (!parse_host(host, &address, &length, error)) return false;
  set_port(&address, static_cast<uint16_t>(port));
  if (port != 0 && !port_is_free(address, length, error)) return false;
  for (int i = 0; i < count; i++) {
    const int fd = open_socket(address.ss_family, true, error);
    if (fd < 0) return false;
    group->fds.push_back(fd);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
      return fail(error, "bind", errno);
    }
    if (i == 0) {
      // Port 0: the first member's port is the group's.
      sockaddr_storage bound{};
      socklen_t bound_length = sizeof bound;
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
        return fail(error, "getsockname", errno);
      }
      set_port(&address, get_port(bound));
    }
    // Members join the group in listen order: member i is index i.
    if (listen(fd, kBacklog) != 0) return fail(error, "listen", errno);
  }
  // Until this returns, the kernel's own hash spreads connections over the
  // members; no worker takes any yet, and with port 0 nobody knows the port.
  const std::vector<sock_filter> program = build_steering_program(count, key);
  sock_fprog attached{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  if (setsockopt(group->fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &attached, sizeof attached) != 0) {
    return fail(error, "setsockopt SO_ATTACH_REUSEPORT_CBPF", errno);
  }
  char text[INET6_ADDRSTRLEN] = "";
  const void* raw = address.ss_family == AF_INET6
                        ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6&>(address).sin6_addr)
                        : static_cast<const void*>(&reinterpret_cast<sockaddr_in&>(address).sin_addr);
  inet_ntop(address.ss_family, raw, text, sizeof text);
  group->address = text;
  group->ipv6 = address.ss_family == AF_INET6;
  group->port = get_port(address);
  return true;
}

void close_members(SteeringGroup* group) {
  for (const int fd : group->fds) close_keeping_errno(fd);
  *group = SteeringGroup{};
}

}  // namespace

std::vector<sock_filter> build_steering_program(int count, const uint8_t key[16]) {
  uint32_t c[kConstantCount];
  derive_constants(key, c);

  std::vector<sock_filter> ipv6;
  emit_absorb(ipv6, kIpv6Source, 4, c);
  std::vector<sock_filter> ipv4;
  emit_absorb(ipv4, kIpv4Source, 1, c);

  std::vector<sock_filter> p;
  // The version nibble of the first byte of the network header.
  p.push_back(insn(BPF_LD | BPF_B | BPF_ABS, static_cast<uint32_t>(SKF_NET_OFF)));
  p.push_back(insn(BPF_ALU | BPF_AND | BPF_K, 0xf0));
  // IPv6 falls through; the IPv6 block then jumps over the IPv4 one. Both
  // blocks are a few dozen instructions, well inside a jump's 8-bit offset.
  p.push_back(sock_filter{BPF_JMP | BPF_JEQ | BPF_K, 0, static_cast<uint8_t>(ipv6.size() + 1), 0x60});
  p.insert(p.end(), ipv6.begin(), ipv6.end());
  p.push_back(insn(BPF_JMP | BPF_JA, static_cast<uint32_t>(ipv4.size())));
  p.insert(p.end(), ipv4.begin(), ipv4.end());
  p.push_back(insn(BPF_ALU | BPF_XOR | BPF_K, c[kFinal]));
  emit_mix(p);
  p.push_back(insn(BPF_ALU | BPF_MOD | BPF_K, static_cast<uint32_t>(count)));
  p.push_back(insn(BPF_RET | BPF_A, 0));
  return p;
}

bool create_group(const std::string& host, int port, int count, const uint8_t key[16],
                  SteeringGroup* group, SteeringError* error) {
  *group = SteeringGroup{};
  *error = SteeringError{};
  if (count < 1 || count > kMaxGroupMembers || port < 0 || port > 65535) {
    return fail(error, "arguments", EINVAL);
  }
  bool created;
  if (host.empty()) {
    created = bind_members("::", port, count, key, group, error);
    // No IPv6 in this kernel: every IPv4 address, as Node's listen() falls back.
    if (!created && error->code == EAFNOSUPPORT) {
      close_members(group);
      *error = SteeringError{};
      created = bind_members("0.0.0.0", port, count, key, group, error);
    }
  } else {
    created = bind_members(host == "localhost" ? "127.0.0.1" : host.c_str(), port, count, key, group, error);
  }
  if (!created) close_members(group);
  return created;
}

bool steering_available() {
  static int available = -1;  // not probed yet
  if (available < 0) {
    const uint8_t key[16] = {};
    SteeringGroup group;
    SteeringError error;
    available = create_group("127.0.0.1", 0, 1, key, &group, &error) ? 1 : 0;
    close_members(&group);
  }
  return available == 1;
}

}  // namespace sticky
