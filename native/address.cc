#include "address.h"

namespace sticky {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Four '.'-separated parts of 1..3 decimal digits, each 0..255. Returns the
// position after the last part, or nullptr. The caller decides what may follow.
const char* parse_ipv4(const char* p, const char* end, uint8_t out[4]) {
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (p == end || *p != '.') return nullptr;
      ++p;
    }
    int value = 0;
    int digits = 0;
    while (p != end && is_digit(*p)) {
      if (++digits > 3) return nullptr;
      value = value * 10 + (*p - '0');
      ++p;
    }
    if (digits == 0 || value > 255) return nullptr;
    out[part] = static_cast<uint8_t>(value);
  }
  return p;
}

// ":" followed by 1..5 decimal digits worth at most 65535, then the end.
bool is_port_suffix(const char* p, const char* end) {
  if (p == end || *p != ':') return false;
  ++p;
  if (p == end || end - p > 5) return false;
  long value = 0;
  for (; p != end; ++p) {
    if (!is_digit(*p)) return false;
    value = value * 10 + (*p - '0');
  }
  return value <= 65535;
}

// RFC 4291 section 2.2 text forms; the whole of [p, end) must be the address.
bool parse_ipv6(const char* p, const char* end, uint8_t out[16]) {
  uint16_t groups[8];
  int count = 0;
  int gap = -1;  // how many groups precede "::", if it appeared

  if (p == end) return false;
  if (*p == ':') {
    if (end - p < 2 || p[1] != ':') return false;
    gap = 0;
    p += 2;
  }
  while (p != end) {
    const char* piece = p;
    int value = 0;
    int digits = 0;
    for (; p != end && hex_value(*p) >= 0; ++p) {
      if (++digits > 4) return false;
      value = value * 16 + hex_value(*p);
    }
    if (digits == 0) return false;
    if (p != end && *p == '.') {
      // An IPv4 tail ends the address and fills the last two groups.
      uint8_t v4[4];
      if (count > 6 || parse_ipv4(piece, end, v4) != end) return false;
      groups[count++] = static_cast<uint16_t>(v4[0] << 8 | v4[1]);
      groups[count++] = static_cast<uint16_t>(v4[2] << 8 | v4[3]);
      break;
    }
    if (count == 8) return false;
    groups[count++] = static_cast<uint16_t>(value);
    if (p == end) break;
    if (*p != ':') return false;
    ++p;
    if (p != end && *p == ':') {
      if (gap >= 0) return false;
      gap = count;
      ++p;
    } else if (p == end) {
      return false;  // a single trailing ':'
    }
  }
  // "::" stands for one or more zero groups; without it all eight are written.
  if (gap < 0 ? count != 8 : count > 7) return false;

  uint16_t words[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const int head = gap < 0 ? count : gap;
  for (int i = 0; i < head; ++i) words[i] = groups[i];
  for (int i = head; i < count; ++i) words[8 - count + i] = groups[i];
  for (int i = 0; i < 8; ++i) {
    out[2 * i] = static_cast<uint8_t>(words[i] >> 8);
    out[2 * i + 1] = static_cast<uint8_t>(words[i]);
  }
  return true;
}

}  // namespace

bool parse_address(const char* text, size_t len, uint8_t out[16]) {
  const char* end = text + len;

  if (len > 0 && text[0] == '[') {
    const char* close = text + 1;
    while (close != end && *close != ']') ++close;
    if (close == end || !parse_ipv6(text + 1, close, out)) return false;
    return close + 1 == end || is_port_suffix(close + 1, end);
  }

  uint8_t v4[4];
  const char* after_v4 = parse_ipv4(text, end, v4);
  if (after_v4 != nullptr && (after_v4 == end || is_port_suffix(after_v4, end))) {
    for (int i = 0; i < 10; ++i) out[i] = 0;
    out[10] = out[11] = 0xff;
    for (int i = 0; i < 4; ++i) out[12 + i] = v4[i];
    return true;
  }
  return parse_ipv6(text, end, out);
}

}  // namespace sticky
