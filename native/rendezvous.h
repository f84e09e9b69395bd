// Rendezvous (highest random weight) hashing of a client's 64-bit hash onto a
// worker index: the C++ twin of src/rendezvous.ts `routeWorker`, same scores, same
// answers (test/vectors/rendezvous.json). Plain C++, every platform.
#ifndef STICKY_RENDEZVOUS_H
#define STICKY_RENDEZVOUS_H

#include <cstddef>
#include <cstdint>

namespace sticky {

// What route_worker answers when the connection must wait for a worker.
constexpr int kWaitForWorker = -1;

// Each worker scores the hash, the client's own worker is the highest of all,
// and it goes to the highest-scoring live worker, except that a client whose
// own worker is down but still starting waits for it. kWaitForWorker when no
// worker is live. `live` and `starting` hold `workers` (> 0) entries.
int route_worker(uint64_t hash, const bool* live, const bool* starting, size_t workers);

}  // namespace sticky

#endif  // STICKY_RENDEZVOUS_H
