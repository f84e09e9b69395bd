// Text -> canonical 16-byte client address, per docs/internals.md
// "Canonical address". The TypeScript twin is src/fallback/address.ts; the two
// must accept exactly the same strings (test/vectors/address.json).
#ifndef STICKY_ADDRESS_H
#define STICKY_ADDRESS_H

#include <cstddef>
#include <cstdint>

namespace sticky {

// Accepts dotted-quad IPv4 (optionally with ":port"), and IPv6 in RFC 4291 text
// form (optionally in brackets, "[v6]:port"). IPv4 is written IPv4-mapped
// (::ffff:a.b.c.d). Returns false, leaving `out` unspecified, for anything else.
bool parse_address(const char* text, size_t len, uint8_t out[16]);

// The same answer, for text with at least 16 bytes readable from `text` (len
// may be less): a plain dotted quad, the usual case, is then read as a block.
bool parse_address_in_block(const char* text, size_t len, uint8_t out[16]);

}  // namespace sticky

#endif
