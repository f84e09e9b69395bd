#include "siphash.h"

#include <cstring>

namespace sticky {
namespace {

// Words are read little-endian whatever the host's byte order, and from any
// alignment: one load on a little-endian host, a byte loop elsewhere.
uint64_t load_le64(const uint8_t* p) {
#if (defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) || defined(_M_X64) || defined(_M_ARM64)
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word;
#else
  uint64_t word = 0;
  for (int i = 7; i >= 0; --i) word = (word << 8) | p[i];
  return word;
#endif
}

uint64_t rotl(uint64_t x, int bits) { return (x << bits) | (x >> (64 - bits)); }

struct SipState {
  uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  }

  void compress(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

}  // namespace

uint64_t siphash24(const uint8_t key[16], const uint8_t* data, size_t len) {
  const uint64_t k0 = load_le64(key);
  const uint64_t k1 = load_le64(key + 8);
  // The constants spell "somepseudorandomlygeneratedbytes".
  SipState s{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
             k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};

  if (len == 16) {
    // A canonical address, the one length the balancer hashes: no loops.
    s.compress(load_le64(data));
    s.compress(load_le64(data + 8));
    s.compress(uint64_t{16} << 56);
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) s.round();
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
  }
  const size_t whole = len - len % 8;
  for (size_t i = 0; i < whole; i += 8) s.compress(load_le64(data + i));

  // The last word holds the 0..7 trailing bytes and, in its top byte, len mod 256.
  uint64_t last = static_cast<uint64_t>(len & 0xff) << 56;
  for (size_t i = whole; i < len; ++i) last |= static_cast<uint64_t>(data[i]) << (8 * (i - whole));
  s.compress(last);

  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace sticky
