// A set of address ranges in CIDR notation ("10.0.0.0/8", "::1/128", or a
// bare address for one host), matched against canonical 16-byte addresses.
// IPv4 ranges are kept as their IPv4-mapped form (::ffff:0:0/96 + prefix), so
// they match exactly the IPv4 clients (and ::ffff:a.b.c.d, which is the same
// client). The TypeScript twin is src/fallback/cidr.ts (test/vectors/cidr.json).
#ifndef STICKY_CIDR_H
#define STICKY_CIDR_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sticky {

struct CidrRange {
  uint8_t prefix[16];  // host bits already zero
  unsigned bits;       // 0..128, counted over the 16-byte form
};

struct CidrSet {
  std::vector<CidrRange> ranges;
};

// One entry: IPv4 dotted quad or IPv6 text (no brackets, port or zone),
// optionally "/bits" (decimal, no leading zero, at most 32 or 128). Host bits
// past the prefix are ignored. Returns false, leaving `out` unspecified, for
// anything else.
bool parse_cidr(const char* text, size_t len, CidrRange* out);

// Appends one entry to `set`; false (and `set` unchanged) if it does not parse.
bool add_cidr(CidrSet& set, const char* text, size_t len);

bool contains(const CidrSet& set, const uint8_t address[16]);

}  // namespace sticky

#endif
