// Bit helpers for the scanners' SIMD masks (http_head.cc, address.cc).
#ifndef STICKY_BITS_H
#define STICKY_BITS_H

#include <cstdint>

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

namespace sticky {

// Index of the lowest set bit of a nonzero mask.
inline unsigned lowest_bit(uint64_t mask) {
#if defined(_MSC_VER) && !defined(__clang__)
  unsigned long index;
#if defined(_M_X64) || defined(_M_ARM64)
  _BitScanForward64(&index, mask);
  return index;
#else
  if (_BitScanForward(&index, static_cast<unsigned long>(mask))) return index;
  _BitScanForward(&index, static_cast<unsigned long>(mask >> 32));
  return index + 32;
#endif
#else
  return static_cast<unsigned>(__builtin_ctzll(mask));
#endif
}

}  // namespace sticky

#endif  // STICKY_BITS_H
