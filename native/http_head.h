// Scans the bytes received so far of an HTTP/1.x request head for the client
// address in one header (e.g. x-forwarded-for), per docs/internals.md "scanHead".
// The TypeScript twin is src/fallback/http-head.ts; both are checked against
// test/vectors/http-head.json.
#ifndef STICKY_HTTP_HEAD_H
#define STICKY_HTTP_HEAD_H

#include <cstddef>
#include <cstdint>

#include "cidr.h"

namespace sticky {

enum class HeadStatus { NeedMore, Found, Missing, Invalid, NotHttp, TooLarge };

struct HeadScan {
  HeadStatus status;
  uint8_t address[16];  // meaningful only when status is Found
};

// How the header's value lists addresses: comma-separated elements
// (X-Forwarded-For, X-Real-IP, ...) or RFC 7239 elements whose for= names the node.
enum class HeaderFormat { List, Forwarded };

// Which element of the list, over every line of the header in order, is the client:
// the leftmost (decided at the first line), or the rightmost one that is not an
// address in `trusted` (decided at the end of the head).
enum class AddressPick { Leftmost, RightmostUntrusted };

struct HeadRules {
  HeaderFormat format = HeaderFormat::List;
  AddressPick pick = AddressPick::Leftmost;
  const CidrSet* trusted = nullptr;  // RightmostUntrusted only; null trusts nobody
};

// `buf` is every byte received so far; `header_lower` is the header name in
// lowercase. The answer is that of a left-to-right reading where the first
// decisive byte ends the scan; bytes are never read past `len` (a block of
// them may be read ahead of that decision, to find line ends).
HeadScan scan_head(const uint8_t* buf, size_t len, const char* header_lower, size_t header_len,
                   size_t limit, const HeadRules& rules);

}  // namespace sticky

#endif
