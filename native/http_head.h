// Scans the bytes received so far of an HTTP/1.x request head for the first
// line of one header (e.g. x-forwarded-for), per docs/internals.md "scanHead".
// The TypeScript twin is src/fallback/http-head.ts; both are checked against
// test/vectors/http-head.json.
#ifndef STICKY_HTTP_HEAD_H
#define STICKY_HTTP_HEAD_H

#include <cstddef>
#include <cstdint>

namespace sticky {

enum class HeadStatus { NeedMore, Found, Missing, Invalid, NotHttp, TooLarge };

struct HeadScan {
  HeadStatus status;
  uint8_t address[16];  // meaningful only when status is Found
};

// `buf` is every byte received so far; `header_lower` is the header name in
// lowercase. The answer is that of a left-to-right reading where the first
// decisive byte ends the scan; bytes are never read past `len` (a block of
// them may be read ahead of that decision, to find line ends).
HeadScan scan_head(const uint8_t* buf, size_t len, const char* header_lower, size_t header_len,
                   size_t limit);

}  // namespace sticky

#endif
