#include "rendezvous.h"

#include "lowbias32.h"

namespace sticky {

namespace {

// src/pick.ts workerScore: lowbias32((low XOR index * 0x9e3779b9) + high).
// Distinct inputs per index and a bijective mix: a client's scores never tie.
uint32_t worker_score(uint32_t high, uint32_t low, uint32_t index) {
  return lowbias32((low ^ (index * 0x9e3779b9u)) + high);
}

}  // namespace

int route_worker(uint64_t hash, const bool* live, const bool* starting, size_t workers) {
  // The own worker scores highest of all, the answer is the highest-scoring
  // live one, so only a down worker's clients move.
  const uint32_t high = static_cast<uint32_t>(hash >> 32);
  const uint32_t low = static_cast<uint32_t>(hash);
  size_t own = 0;
  int64_t own_score = -1;
  int best = kWaitForWorker;
  int64_t best_score = -1;
  for (size_t i = 0; i < workers; ++i) {
    const int64_t score = worker_score(high, low, static_cast<uint32_t>(i));
    if (score > own_score) {
      own = i;
      own_score = score;
    }
    if (live[i] && score > best_score) {
      best = static_cast<int>(i);
      best_score = score;
    }
  }
  if (!live[own] && starting[own]) return kWaitForWorker;
  return best;
}

}  // namespace sticky
