// Finds the Engine.IO session id in an HTTP request line and, when the id is
// one sticky-native minted (src/session-id.ts), the worker it names. The
// TypeScript twin is src/fallback/sid.ts; both are checked against
// test/vectors/sid.json. Plain C++, no allocation.
//
// A session id is 24 base64url characters holding 18 bytes:
//   worker index (2, big-endian) | random (10) | tag (6)
// where the tag is the first 6 bytes (little-endian order) of
// SipHash-2-4(key, index | random). Only the primary and its workers know
// the key, so a client cannot make up an id that picks a worker.
#ifndef STICKY_SID_H
#define STICKY_SID_H

#include <cstddef>
#include <cstdint>

namespace sticky {

constexpr size_t kSidIndexBytes = 2;
constexpr size_t kSidRandomBytes = 10;
constexpr size_t kSidTagBytes = 6;
constexpr size_t kSidBytes = kSidIndexBytes + kSidRandomBytes + kSidTagBytes;
constexpr size_t kSidTextLength = kSidBytes / 3 * 4;  // base64url, no padding

enum class SidStatus {
  NeedMore,  // the request target has not ended yet within the bytes seen
  Found,     // a valid id naming a worker below `workers`
  None,      // no sid parameter, or one that is malformed, forged or out of range
  NotHttp,   // the bytes cannot start an HTTP/1.x request line
  TooLarge,  // `limit` bytes seen and still undecided
};

struct SidScan {
  SidStatus status;
  int worker;  // the worker index when Found, otherwise -1
};

// The worker an id names, or -1 if `text` is not exactly an id under `key`
// whose index is below `workers`. The tag comparison takes the same time
// wherever the first difference is.
int verify_sid(const uint8_t* text, size_t len, const uint8_t key[16], size_t workers);

// Reads the request line in `buf` (every byte received so far; at most
// `limit` of them are looked at): the method (1..20 token characters, then
// one SP), then the target up to SP. The first `sid=` parameter of the query
// (after the first `?`, parameters split on `&`, the query ends at `#`)
// decides as soon as its value ends; a target that ends without one is None.
// A CTL byte or DEL in the target is NotHttp.
SidScan scan_sid(const uint8_t* buf, size_t len, const uint8_t key[16], size_t workers,
                 size_t limit);

}  // namespace sticky

#endif
