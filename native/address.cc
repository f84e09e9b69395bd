#include "address.h"

#include <cstring>

// SSE2 is part of every x86-64 target; elsewhere parse_address does it all.
#if defined(__SSE2__) || defined(_M_X64)
#define STICKY_ADDRESS_SSE2 1
#include <emmintrin.h>

#include "bits.h"
#endif

namespace sticky {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Four '.'-separated parts of 1..3 decimal digits, each 0..255, into *out
// (the first in the high byte). Returns the position after the last part, or
// nullptr. The caller decides what may follow.
const char* parse_ipv4(const char* p, const char* end, uint32_t* out) {
  uint32_t address = 0;
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
    address = address << 8 | static_cast<uint32_t>(value);
  }
  *out = address;
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
      uint32_t v4 = 0;
      if (count > 6 || parse_ipv4(piece, end, &v4) != end) return false;
      groups[count++] = static_cast<uint16_t>(v4 >> 16);
      groups[count++] = static_cast<uint16_t>(v4);
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

// Writes an IPv4 address (the first part in the high byte) IPv4-mapped, in
// one piece: whoever reads the address next (the hash) then finds it in one
// store rather than waiting for a dozen small ones.
void write_ipv4_mapped(uint32_t v4, uint8_t out[16]) {
  const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, static_cast<uint8_t>(v4 >> 24),
                              static_cast<uint8_t>(v4 >> 16), static_cast<uint8_t>(v4 >> 8), static_cast<uint8_t>(v4)};
  std::memcpy(out, mapped, sizeof mapped);
}

#ifdef STICKY_ADDRESS_SSE2
// A dotted quad and nothing else in [text, text + len), read as one block (16
// bytes must be readable from text): what parse_ipv4 accepts with nothing
// after it. Every byte's value as the last digit of a part is worked out at
// once, from the digit before it and the one before that; the four parts'
// values are then read at their last digits.
bool parse_dotted_quad_block(const char* text, size_t len, uint32_t* out) {
  if (len < 7 || len > 15) return false;
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text));
  // A digit iff v - '0', read unsigned, is below 10 (compared signed, moved by 0x80).
  const __m128i is_digit = _mm_cmplt_epi8(_mm_sub_epi8(v, _mm_set1_epi8(static_cast<char>('0' + 0x80))),
                                          _mm_set1_epi8(static_cast<char>(10 - 0x80)));
  const unsigned in_text = (1u << len) - 1;
  const unsigned digits = static_cast<unsigned>(_mm_movemask_epi8(is_digit)) & in_text;
  const unsigned dots = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')))) & in_text;
  if ((digits | dots) != in_text) return false;
  // Three dots, and 1..3 digits before, between and after them.
  unsigned rest = dots;
  const unsigned end1 = lowest_bit(rest | 0x10000);
  rest &= rest - 1;
  const unsigned end2 = lowest_bit(rest | 0x10000);
  rest &= rest - 1;
  const unsigned end3 = lowest_bit(rest | 0x10000);
  rest &= rest - 1;
  if (rest != 0 || end1 - 1 > 2 || end2 - end1 - 2 > 2 || end3 - end2 - 2 > 2 || len - end3 - 2 > 2) return false;
  // Byte k as a part's last digit: ones z[k], tens z[k - 1], hundreds z[k - 2]
  // if z[k - 1] is a digit too (else z[k - 2] is the part before). The bytes
  // are small: shifts within 16-bit lanes do not carry into the next byte.
  const __m128i z = _mm_and_si128(_mm_and_si128(v, _mm_set1_epi8(0x0f)), is_digit);
  const __m128i z1 = _mm_slli_si128(z, 1);
  const __m128i ones_tens = _mm_add_epi8(z, _mm_add_epi8(_mm_slli_epi16(z1, 3), _mm_slli_epi16(z1, 1)));
  const __m128i hundreds = _mm_and_si128(_mm_slli_si128(z, 2), _mm_slli_si128(is_digit, 1));
  // At most 255: hundreds below 2, or 2 and the rest below 56.
  const __m128i two = _mm_set1_epi8(2);
  const __m128i hundreds_two = _mm_cmpeq_epi8(hundreds, two);
  const __m128i small = _mm_or_si128(_mm_cmplt_epi8(hundreds, two),
                                     _mm_and_si128(hundreds_two, _mm_cmplt_epi8(ones_tens, _mm_set1_epi8(56))));
  const unsigned last_digits = dots >> 1 | 1u << (len - 1);
  if ((static_cast<unsigned>(_mm_movemask_epi8(small)) & last_digits) != last_digits) return false;
  const __m128i values = _mm_add_epi8(
      ones_tens, _mm_or_si128(_mm_and_si128(_mm_cmpeq_epi8(hundreds, _mm_set1_epi8(1)), _mm_set1_epi8(100)),
                              _mm_and_si128(hundreds_two, _mm_set1_epi8(static_cast<char>(200)))));
  uint8_t bytes[16];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(bytes), values);
  *out = static_cast<uint32_t>(bytes[end1 - 1]) << 24 | static_cast<uint32_t>(bytes[end2 - 1]) << 16 |
         static_cast<uint32_t>(bytes[end3 - 1]) << 8 | bytes[len - 1];
  return true;
}
#endif

}  // namespace

bool parse_address_in_block(const char* text, size_t len, uint8_t out[16]) {
#ifdef STICKY_ADDRESS_SSE2
  uint32_t v4;
  if (parse_dotted_quad_block(text, len, &v4)) {
    write_ipv4_mapped(v4, out);
    return true;
  }
#endif
  return parse_address(text, len, out);
}

bool parse_address(const char* text, size_t len, uint8_t out[16]) {
  const char* end = text + len;

  if (len > 0 && text[0] == '[') {
    const char* close = text + 1;
    while (close != end && *close != ']') ++close;
    if (close == end || !parse_ipv6(text + 1, close, out)) return false;
    return close + 1 == end || is_port_suffix(close + 1, end);
  }

  uint32_t v4 = 0;
  const char* after_v4 = parse_ipv4(text, end, &v4);
  if (after_v4 != nullptr && (after_v4 == end || is_port_suffix(after_v4, end))) {
    write_ipv4_mapped(v4, out);
    return true;
  }
  return parse_ipv6(text, end, out);
}

}  // namespace sticky
