// SipHash-2-4 (Aumasson & Bernstein, 2012): a keyed 64-bit PRF. The primary
// hashes each client address with a secret key so that clients cannot choose
// addresses that pile onto one worker.
#ifndef STICKY_SIPHASH_H
#define STICKY_SIPHASH_H

#include <cstddef>
#include <cstdint>

namespace sticky {

uint64_t siphash24(const uint8_t key[16], const uint8_t* data, size_t len);

}  // namespace sticky

#endif
