#include "cidr.h"

#include <cstring>

#include "address.h"

namespace sticky {

namespace {

bool prefix_matches(const CidrRange& range, const uint8_t address[16]) {
  const unsigned whole = range.bits / 8;
  if (std::memcmp(range.prefix, address, whole) != 0) return false;
  const unsigned rest = range.bits % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (address[whole] & mask) == range.prefix[whole];
}

void clear_host_bits(CidrRange* range) {
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned first_bit = i * 8;
    if (first_bit >= range->bits) {
      range->prefix[i] = 0;
    } else if (range->bits - first_bit < 8) {
      range->prefix[i] &= static_cast<uint8_t>(0xff << (8 - (range->bits - first_bit)));
    }
  }
}

}  // namespace

bool parse_cidr(const char* text, size_t len, CidrRange* out) {
  const char* slash = static_cast<const char*>(std::memchr(text, '/', len));
  const size_t address_len = slash ? static_cast<size_t>(slash - text) : len;
  // parse_address also takes "a.b.c.d:port" and "[v6]:port"; a range has
  // neither. Every IPv6 text has at least two colons, so one colon is a port.
  size_t colons = 0;
  for (size_t i = 0; i < address_len; ++i) {
    if (text[i] == '[') return false;
    if (text[i] == ':') ++colons;
  }
  if (colons == 1) return false;
  const bool ipv4 = colons == 0;
  if (address_len == 0 || !parse_address(text, address_len, out->prefix)) return false;

  const unsigned family_bits = ipv4 ? 32 : 128;
  unsigned bits = family_bits;
  if (slash) {
    const char* digits = slash + 1;
    const size_t count = len - address_len - 1;
    if (count == 0 || count > 3 || (count > 1 && digits[0] == '0')) return false;
    bits = 0;
    for (size_t i = 0; i < count; ++i) {
      if (digits[i] < '0' || digits[i] > '9') return false;
      bits = bits * 10 + static_cast<unsigned>(digits[i] - '0');
    }
    if (bits > family_bits) return false;
  }
  out->bits = ipv4 ? 96 + bits : bits;
  clear_host_bits(out);
  return true;
}

bool add_cidr(CidrSet& set, const char* text, size_t len) {
  CidrRange range;
  if (!parse_cidr(text, len, &range)) return false;
  set.ranges.push_back(range);
  return true;
}

bool contains(const CidrSet& set, const uint8_t address[16]) {
  for (const CidrRange& range : set.ranges) {
    if (prefix_matches(range, address)) return true;
  }
  return false;
}

}  // namespace sticky
