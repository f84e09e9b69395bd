// lowbias32 (Chris Wellons' integer hash prospector): a 32-bit bijection whose
// output bits each depend on every input bit, in two multiplies. Rendezvous
// scoring (rendezvous.cc) and kernel steering (steering.cc, which also emits it
// as BPF from these constants) share it; src/pick.ts `workerScore` is its TS twin.
#ifndef STICKY_LOWBIAS32_H
#define STICKY_LOWBIAS32_H

#include <cstdint>

namespace sticky {

constexpr uint32_t kMixShift1 = 16, kMixShift2 = 15, kMixShift3 = 16;
constexpr uint32_t kMixMul1 = 0x7feb352du, kMixMul2 = 0x846ca68bu;

inline uint32_t lowbias32(uint32_t x) {
  x ^= x >> kMixShift1;
  x *= kMixMul1;
  x ^= x >> kMixShift2;
  x *= kMixMul2;
  x ^= x >> kMixShift3;
  return x;
}

}  // namespace sticky

#endif  // STICKY_LOWBIAS32_H
