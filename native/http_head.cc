#include "http_head.h"

#include <cstring>

#include "address.h"

// SSE2 is part of every x86-64 target; elsewhere the portable loops below do
// all the work (they also finish whatever the vector loops leave).
#if defined(__SSE2__) || defined(_M_X64)
#define STICKY_HEAD_SSE2 1
#include <emmintrin.h>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif
#endif

namespace sticky {
namespace {

constexpr size_t kMaxMethodLength = 20;

// Per-byte lookups, so the hot loops spend one load per byte on a class.
struct ByteTables {
  bool token[256];     // RFC 9110 tchar: the characters of a method or a header name
  uint8_t lower[256];  // ASCII letters folded to lowercase, every other byte as is
};

constexpr ByteTables make_byte_tables() {
  ByteTables t{};
  for (int c = 0; c < 256; ++c) {
    const bool digit = c >= '0' && c <= '9';
    const bool upper = c >= 'A' && c <= 'Z';
    const bool lower = c >= 'a' && c <= 'z';
    t.token[c] = digit || upper || lower;
    t.lower[c] = static_cast<uint8_t>(upper ? c + ('a' - 'A') : c);
  }
  for (const char* p = "!#$%&'*+-.^_`|~"; *p != '\0'; ++p) t.token[static_cast<uint8_t>(*p)] = true;
  return t;
}

constexpr ByteTables kBytes = make_byte_tables();

bool is_ows(uint8_t c) { return c == ' ' || c == '\t'; }

HeadScan result(HeadStatus status) { return HeadScan{status, {}}; }

#ifdef STICKY_HEAD_SSE2
// Index of the lowest set bit of a nonzero mask.
unsigned lowest_bit(uint64_t mask) {
#if defined(_MSC_VER) && !defined(__clang__)
  unsigned long index;
  _BitScanForward64(&index, mask);
  return index;
#else
  return static_cast<unsigned>(__builtin_ctzll(mask));
#endif
}

__m128i load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// Bit k set iff p[k] is LF, for k in [0, 64).
uint64_t lf_mask64(const uint8_t* p) {
  const __m128i lf = _mm_set1_epi8('\n');
  uint64_t mask = 0;
  for (int k = 0; k < 64; k += 16) {
    const unsigned hits = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(load16(p + k), lf)));
    mask |= static_cast<uint64_t>(hits) << k;
  }
  return mask;
}

// Yields the LFs from `from` on, in order, from a bit mask of the LFs in a
// 64-byte window: the next line's start then costs a few bit operations, not
// a search each line would wait for, so the lines' other work overlaps.
class LineEnds {
 public:
  LineEnds(const uint8_t* buf, size_t len, size_t from)
      : buf_(buf), len_(len), base_(from), bits_(from < len ? lf_bits(from) : 0) {}

  // Index of the next LF, or len when there is none.
  size_t next() {
    while (bits_ == 0) {
      base_ += 64;
      if (base_ >= len_) return len_;
      bits_ = lf_bits(base_);
    }
    const size_t at = base_ + lowest_bit(bits_);
    bits_ &= bits_ - 1;
    return at;
  }

 private:
  // LF bits of the window [at, at + 64) cut at len_, for at < len_.
  uint64_t lf_bits(size_t at) const {
    const size_t left = len_ - at;
    if (left >= 64) return lf_mask64(buf_ + at);
    // Near the end: the last 64 bytes, shifted so that bit 0 is `at`.
    if (len_ >= 64) return lf_mask64(buf_ + len_ - 64) >> (64 - left);
    uint64_t mask = 0;
    for (size_t k = 0; k < left; ++k) mask |= static_cast<uint64_t>(buf_[at + k] == '\n') << k;
    return mask;
  }

  const uint8_t* buf_;
  size_t len_;
  size_t base_;    // start of the window
  uint64_t bits_;  // bit k: buf_[base_ + k] is an LF not yet yielded
};
#else
// Without SSE2, memchr (vectorised in most C libraries) finds each line end.
class LineEnds {
 public:
  LineEnds(const uint8_t* buf, size_t len, size_t from) : buf_(buf), len_(len), from_(from) {}

  // Index of the next LF, or len when there is none.
  size_t next() {
    const void* found = std::memchr(buf_ + from_, '\n', len_ - from_);
    if (found == nullptr) return len_;
    const size_t at = static_cast<size_t>(static_cast<const uint8_t*>(found) - buf_);
    from_ = at + 1;
    return at;
  }

 private:
  const uint8_t* buf_;
  size_t len_;
  size_t from_;  // where the next search starts
};
#endif

// Index of the first byte in [i, len) that cannot be inside a request target
// (a CTL, SP or DEL), or len. Bytes >= 0x80 are allowed in a target.
size_t find_target_end(const uint8_t* buf, size_t i, size_t len) {
#ifdef STICKY_HEAD_SSE2
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i del = _mm_set1_epi8(0x7f);
  for (; len - i >= 16; i += 16) {
    const __m128i v = load16(buf + i);
    // v <= ' ' (unsigned) iff min(v, ' ') == v.
    const __m128i stop = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, space), v), _mm_cmpeq_epi8(v, del));
    const unsigned hits = static_cast<unsigned>(_mm_movemask_epi8(stop));
    if (hits != 0) return i + lowest_bit(hits);
  }
#endif
  for (; i < len; ++i) {
    if (buf[i] <= ' ' || buf[i] == 0x7f) break;
  }
  return i;
}

// Skips, 16 at a time, bytes that are surely token bytes: letters, digits and
// '-', what header names are made of. The caller's byte loop decides from the
// first byte not skipped, so a rarer token byte only ends the fast part.
size_t skip_name_bytes(const uint8_t* buf, size_t i, size_t len) {
#ifdef STICKY_HEAD_SSE2
  // x is in [lo, lo + n) iff x - lo - 0x80, read as signed, is below n - 0x80.
  const __m128i letter_shift = _mm_set1_epi8(static_cast<char>('a' + 0x80));
  const __m128i letter_bound = _mm_set1_epi8(static_cast<char>(26 - 0x80));
  const __m128i digit_shift = _mm_set1_epi8(static_cast<char>('0' + 0x80));
  const __m128i digit_bound = _mm_set1_epi8(static_cast<char>(10 - 0x80));
  const __m128i case_bit = _mm_set1_epi8(0x20);
  const __m128i dash = _mm_set1_epi8('-');
  for (; len - i >= 16; i += 16) {
    const __m128i v = load16(buf + i);
    const __m128i letter = _mm_cmplt_epi8(_mm_sub_epi8(_mm_or_si128(v, case_bit), letter_shift), letter_bound);
    const __m128i digit = _mm_cmplt_epi8(_mm_sub_epi8(v, digit_shift), digit_bound);
    const __m128i name = _mm_or_si128(_mm_or_si128(letter, digit), _mm_cmpeq_epi8(v, dash));
    const unsigned other = ~static_cast<unsigned>(_mm_movemask_epi8(name)) & 0xffff;
    if (other != 0) return i + lowest_bit(other);
  }
#else
  (void)buf;
  (void)len;
#endif
  return i;
}

// Whether the header name [name, name + len) equals `header_lower`, ASCII
// letters compared without case. The name is token bytes, all ASCII, so a
// byte matches iff it is equal, or is a letter and differs only in 0x20.
bool same_name(const uint8_t* name, const char* header_lower, size_t len) {
  constexpr uint64_t kOnes = 0x0101010101010101u;
  constexpr uint64_t kHighs = 0x8080808080808080u;
  size_t k = 0;
  for (; len - k >= 8; k += 8) {
    uint64_t a;
    uint64_t b;
    std::memcpy(&a, name + k, 8);
    std::memcpy(&b, header_lower + k, 8);
    // High bit of each byte: a | 0x20 is in 'a'..'z' (no carries: a < 0x80).
    const uint64_t folded = a | (0x20 * kOnes);
    const uint64_t letter = (folded + (0x80 - 'a') * kOnes) & ~(folded + (0x7f - 'z') * kOnes) & kHighs;
    // Where a letter is, 0x20 may differ; `letter >> 2` puts 0x20 in those bytes.
    if (((a ^ b) & ~(letter >> 2)) != 0) return false;
  }
  for (; k < len; ++k) {
    if (kBytes.lower[name[k]] != kBytes.lower[static_cast<uint8_t>(header_lower[k])]) return false;
  }
  return true;
}

// One element of a header value, as far as routing cares.
enum class ElementKind { Empty, Address, NotAddress };

struct Element {
  ElementKind kind;
  uint8_t address[16];  // meaningful only for Address
};

void read_node(const uint8_t* buf, size_t start, size_t end, Element* out) {
  const bool parsed = parse_address(reinterpret_cast<const char*>(buf + start), end - start, out->address);
  out->kind = parsed ? ElementKind::Address : ElementKind::NotAddress;
}

// A list element in [start, end), which holds no ',': OWS trimmed; empty
// elements are legal in an RFC 9110 list and name nobody.
void read_list_element(const uint8_t* buf, size_t start, size_t end, Element* out) {
  while (start < end && is_ows(buf[start])) ++start;
  while (end > start && is_ows(buf[end - 1])) --end;
  if (start == end) {
    out->kind = ElementKind::Empty;
    return;
  }
  read_node(buf, start, end, out);
}

// Index of the first ',' in [i, end) outside a quoted string (where '\'
// escapes the next byte), or end.
size_t skip_to_element_end(const uint8_t* buf, size_t i, size_t end) {
  bool quoted = false;
  for (; i < end; ++i) {
    const uint8_t c = buf[i];
    if (quoted && c == '\\') {
      if (++i == end) break;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      break;
    }
  }
  return i;
}

// An element whose syntax broke at i: it names nobody, and ends at the next
// ',' outside a quoted string.
size_t malformed_forwarded_element(const uint8_t* buf, size_t i, size_t end, Element* out) {
  out->kind = ElementKind::NotAddress;
  return skip_to_element_end(buf, i, end);
}

bool ends_forwarded_token(uint8_t c) { return c == ';' || c == ',' || c == '"' || is_ows(c); }

// An RFC 7239 forwarded-element starting at i: ';'-separated name=value pairs,
// a value a token or a quoted string. Its node is the value of its one for=
// pair; an element without one, with two, or with bad syntax is NotAddress.
// Returns the index of the ',' that ends it, or end.
size_t read_forwarded_element(const uint8_t* buf, size_t i, size_t end, Element* out) {
  bool any_pair = false;
  bool has_node = false;
  bool node_escaped = false;
  size_t node_start = 0;
  size_t node_end = 0;
  for (;;) {
    while (i < end && is_ows(buf[i])) ++i;
    if (i == end || buf[i] == ',') break;
    any_pair = true;
    if (buf[i] == ';') {
      ++i;
      continue;
    }
    const size_t name_start = i;
    while (i < end && kBytes.token[buf[i]]) ++i;
    const bool is_for = i - name_start == 3 && kBytes.lower[buf[name_start]] == 'f' &&
                        kBytes.lower[buf[name_start + 1]] == 'o' && kBytes.lower[buf[name_start + 2]] == 'r';
    if (i == name_start || i == end || buf[i] != '=') return malformed_forwarded_element(buf, i, end, out);
    ++i;
    size_t value_start = i;
    size_t value_end;
    bool escaped = false;
    if (i < end && buf[i] == '"') {
      value_start = ++i;
      while (i < end && buf[i] != '"') {
        if (buf[i] == '\\') {
          escaped = true;
          if (++i == end) break;
        }
        ++i;
      }
      if (i == end) return malformed_forwarded_element(buf, i, end, out);
      value_end = i++;
    } else {
      while (i < end && !ends_forwarded_token(buf[i])) ++i;
      value_end = i;
      if (value_end == value_start) return malformed_forwarded_element(buf, i, end, out);
    }
    while (i < end && is_ows(buf[i])) ++i;
    if (i < end && buf[i] != ';' && buf[i] != ',') return malformed_forwarded_element(buf, i, end, out);
    if (is_for) {
      // RFC 7239 section 4: a parameter occurs at most once per element.
      if (has_node) return malformed_forwarded_element(buf, i, end, out);
      has_node = true;
      node_escaped = escaped;
      node_start = value_start;
      node_end = value_end;
    }
  }
  if (!any_pair) {
    out->kind = ElementKind::Empty;
  } else if (!has_node || node_escaped) {
    // No address needs an escape; an escaped node is a name at best.
    out->kind = ElementKind::NotAddress;
  } else {
    read_node(buf, node_start, node_end, out);
  }
  return i;
}

// The leftmost element of one line's value [start, end), which excludes the
// LF and the CR before it.
HeadScan decide_leftmost(const uint8_t* buf, size_t start, size_t end, HeaderFormat format) {
  Element element;
  if (format == HeaderFormat::Forwarded) {
    read_forwarded_element(buf, start, end, &element);
  } else {
    const void* comma = std::memchr(buf + start, ',', end - start);
    read_list_element(buf, start, comma != nullptr ? static_cast<const uint8_t*>(comma) - buf : end, &element);
  }
  if (element.kind != ElementKind::Address) return result(HeadStatus::Invalid);
  HeadScan scan = result(HeadStatus::Found);
  std::memcpy(scan.address, element.address, sizeof scan.address);
  return scan;
}

// Reads the elements of every line of the header left to right and keeps
// what a right-to-left walk over them would stop at: the last element that is
// not a trusted address. Fixed size, whatever the number of elements.
class RightmostUntrusted {
 public:
  explicit RightmostUntrusted(const CidrSet* trusted) : trusted_(trusted) {}

  void add_line(const uint8_t* buf, size_t start, size_t end, HeaderFormat format) {
    seen_line_ = true;
    Element element;
    for (size_t i = start;;) {
      size_t element_end;
      if (format == HeaderFormat::Forwarded) {
        element_end = read_forwarded_element(buf, i, end, &element);
      } else {
        const void* comma = std::memchr(buf + i, ',', end - i);
        element_end = comma != nullptr ? static_cast<size_t>(static_cast<const uint8_t*>(comma) - buf) : end;
        read_list_element(buf, i, element_end, &element);
      }
      add(element);
      if (element_end == end) break;
      i = element_end + 1;
    }
  }

  // At the end of the head (for the leftmost pick too: no line was added).
  HeadScan decide() const {
    if (!seen_line_) return result(HeadStatus::Missing);
    if (leftmost_.kind == ElementKind::Empty) return result(HeadStatus::Invalid);  // names nobody
    // Every address trusted: the leftmost is as far as the proxies' word goes.
    const Element& pick = untrusted_.kind != ElementKind::Empty ? untrusted_ : leftmost_;
    if (pick.kind != ElementKind::Address) return result(HeadStatus::Invalid);
    HeadScan scan = result(HeadStatus::Found);
    std::memcpy(scan.address, pick.address, sizeof scan.address);
    return scan;
  }

 private:
  void add(const Element& element) {
    if (element.kind == ElementKind::Empty) return;
    if (leftmost_.kind == ElementKind::Empty) leftmost_ = element;
    const bool trusted = element.kind == ElementKind::Address && trusted_ != nullptr &&
                         contains(*trusted_, element.address);
    if (!trusted) untrusted_ = element;
  }

  const CidrSet* trusted_;
  bool seen_line_ = false;
  Element leftmost_{ElementKind::Empty, {}};   // the first non-empty element
  Element untrusted_{ElementKind::Empty, {}};  // the last one not trusted
};

}  // namespace

HeadScan scan_head(const uint8_t* buf, size_t len, const char* header_lower, size_t header_len,
                   size_t limit, const HeadRules& rules) {
  // Bytes past the limit are never looked at: the peeker cannot see them, and
  // a reader that happened to receive more must decide the same.
  if (len > limit) len = limit;
  // What to answer when the bytes run out before anything was decided.
  const HeadScan out_of_bytes = result(len >= limit ? HeadStatus::TooLarge : HeadStatus::NeedMore);
  const HeadScan not_http = result(HeadStatus::NotHttp);
  size_t i = 0;

  // Request line: method SP target SP "HTTP/" DIGIT "." DIGIT [CR] LF
  for (size_t method_length = 0;; ++i, ++method_length) {
    if (i == len) return out_of_bytes;
    if (buf[i] == ' ' && method_length > 0) break;
    if (!kBytes.token[buf[i]] || method_length == kMaxMethodLength) return not_http;
  }
  ++i;
  const size_t target_start = i;
  i = find_target_end(buf, i, len);
  if (i == len) return out_of_bytes;
  if (buf[i] != ' ' || i == target_start) return not_http;
  ++i;
  static const char kVersion[] = "HTTP/#.#";  // '#' is any digit
  constexpr size_t kVersionLength = sizeof kVersion - 1;
  const size_t version_seen = len - i < kVersionLength ? len - i : kVersionLength;
  for (size_t k = 0; k < version_seen; ++k) {
    const uint8_t c = buf[i + k];
    const bool ok = kVersion[k] == '#' ? (c >= '0' && c <= '9') : c == kVersion[k];
    if (!ok) return not_http;
  }
  if (version_seen < kVersionLength) return out_of_bytes;
  i += kVersionLength;
  if (i < len && buf[i] == '\r') ++i;
  if (i == len) return out_of_bytes;
  if (buf[i] != '\n') return not_http;
  ++i;

  // Header lines, up to the empty line.
  const bool leftmost = rules.pick == AddressPick::Leftmost;
  RightmostUntrusted rightmost(rules.trusted);
  LineEnds line_ends(buf, len, i);
  for (;;) {
    // Name: one or more token characters, then ':'.
    const size_t name_start = i;
    i = skip_name_bytes(buf, i, len);
    if (i == len || buf[i] != ':' || i == name_start) {
      // Rarer token bytes, the end of the bytes, or no name at all.
      while (i < len && kBytes.token[buf[i]]) ++i;
      if (i == name_start) {
        // No name: the empty line that ends the head, or not HTTP.
        if (i == len) return out_of_bytes;
        if (buf[i] == '\n') return rightmost.decide();
        if (buf[i] != '\r') return not_http;
        if (++i == len) return out_of_bytes;
        return buf[i] == '\n' ? rightmost.decide() : not_http;
      }
      if (i == len) return out_of_bytes;
      if (buf[i] != ':') return not_http;
    }
    const size_t name_length = i - name_start;
    ++i;

    const size_t line_end = line_ends.next();
    if (line_end == len) return out_of_bytes;
    if (name_length == header_len && same_name(buf + name_start, header_lower, header_len)) {
      const size_t value_end = line_end > i && buf[line_end - 1] == '\r' ? line_end - 1 : line_end;
      if (leftmost) return decide_leftmost(buf, i, value_end, rules.format);
      rightmost.add_line(buf, i, value_end, rules.format);
    }
    i = line_end + 1;
  }
}

}  // namespace sticky
