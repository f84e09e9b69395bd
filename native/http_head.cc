#include "http_head.h"

#include <cstring>

#include "address.h"
#include "bits.h"

// SSE2 is part of every x86-64 target; elsewhere the portable loops below do
// all the work (they also finish whatever the vector loops leave).
#if defined(__SSE2__) || defined(_M_X64)
#define STICKY_HEAD_SSE2 1
#include <emmintrin.h>
#endif

// AVX2 where the CPU has it: GCC and Clang compile one entry point for it
// without the rest of the build assuming it, and scan_head picks it at run
// time. Define STICKY_HEAD_NO_AVX2 to try the SSE2 path on such a CPU.
#if defined(STICKY_HEAD_SSE2) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__x86_64__) || defined(__i386__)) && !defined(STICKY_HEAD_NO_AVX2)
#define STICKY_HEAD_AVX2 1
#include <immintrin.h>
#define STICKY_AVX2 __attribute__((target("avx2,bmi,bmi2")))
#endif

// The scanner is written once, as templates over an instruction set, and
// inlined whole into that set's entry point, where it is compiled for the set.
// The expected-path hints keep the line loop straight: one taken branch a line.
#if defined(__GNUC__) || defined(__clang__)
#define STICKY_INLINE inline __attribute__((always_inline))
#define STICKY_NOINLINE __attribute__((noinline))
#define STICKY_LIKELY(x) __builtin_expect(!!(x), 1)
#define STICKY_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define STICKY_INLINE inline
#define STICKY_NOINLINE
#define STICKY_LIKELY(x) (x)
#define STICKY_UNLIKELY(x) (x)
#endif

namespace sticky {
namespace {

constexpr size_t kMaxMethodLength = 20;

// Per-byte lookups, so the byte loops spend one load per byte on a class.
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

bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

HeadScan result(HeadStatus status) { return HeadScan{status, {}}; }

#ifdef STICKY_HEAD_SSE2
__m128i load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
#endif

// Index of the first ',' in [i, end), or end.
size_t find_comma(const uint8_t* buf, size_t i, size_t end) {
#ifdef STICKY_HEAD_SSE2
  // An address is shorter than 16 bytes: one block nearly always decides.
  if (end - i >= 16) {
    const unsigned hits = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(load16(buf + i), _mm_set1_epi8(','))));
    if (hits != 0) return i + lowest_bit(hits);
    i += 16;
  }
#endif
  const void* comma = std::memchr(buf + i, ',', end - i);
  return comma != nullptr ? static_cast<size_t>(static_cast<const uint8_t*>(comma) - buf) : end;
}

// One element of a header value, as far as routing cares.
enum class ElementKind { Empty, Address, NotAddress };

struct Element {
  ElementKind kind = ElementKind::Empty;
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
// LF and the CR before it. Bytes up to len can be read.
HeadScan decide_leftmost(const uint8_t* buf, size_t len, size_t start, size_t end, HeaderFormat format) {
  HeadScan scan = result(HeadStatus::Invalid);
  if (format == HeaderFormat::Forwarded) {
    Element element;
    read_forwarded_element(buf, start, end, &element);
    if (element.kind == ElementKind::Address) {
      scan.status = HeadStatus::Found;
      std::memcpy(scan.address, element.address, sizeof scan.address);
    }
    return scan;
  }
  // A list element, read as read_list_element does, straight into the
  // answer: the hash reads it next, and a copy in between would make it wait.
  end = find_comma(buf, start, end);
  while (start < end && is_ows(buf[start])) ++start;
  while (end > start && is_ows(buf[end - 1])) --end;
  if (start == end) return scan;
  const char* text = reinterpret_cast<const char*>(buf + start);
  const bool parsed = len - start >= 16 ? parse_address_in_block(text, end - start, scan.address)
                                        : parse_address(text, end - start, scan.address);
  if (parsed) {
    scan.status = HeadStatus::Found;
  } else {
    scan = result(HeadStatus::Invalid);
  }
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
  Element leftmost_;   // the first non-empty element
  Element untrusted_;  // the last one not trusted
};

// ---------------------------------------------------------------- instruction sets

// What the scanner needs from an instruction set. Each reads whole blocks
// that the caller has checked are in the buffer:
//   kNameBlock, kTargetBlock   the bytes name_length and target_bad look at;
//   lf_mask64(p)     bit k set iff p[k] is LF, for k in [0, 64);
//   name_length(p)   how many bytes of p[0, kNameBlock) lead with name bytes
//                    (kNameBlock if all do): token bytes, or only the letters,
//                    digits and '-' nearly every name is made of, leaving the
//                    rest to the byte loop;
//   target_bad(p)    bit k set iff p[k] cannot be in a request target (a CTL,
//                    SP or DEL), for k in [0, kTargetBlock).
#ifdef STICKY_HEAD_SSE2
struct Sse2 {
  static constexpr size_t kNameBlock = 32;
  static constexpr size_t kTargetBlock = 16;

  static uint64_t lf_mask64(const uint8_t* p) {
    const __m128i lf = _mm_set1_epi8('\n');
    uint64_t mask = 0;
    for (int k = 0; k < 64; k += 16) {
      const unsigned hits = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(load16(p + k), lf)));
      mask |= static_cast<uint64_t>(hits) << k;
    }
    return mask;
  }

  // Bit k set iff p[k] is a letter, a digit or '-'. A byte x is in
  // [lo, lo + n) iff x - lo - 0x80, read as signed, is below n - 0x80.
  static unsigned name_bits(const uint8_t* p) {
    const __m128i v = load16(p);
    const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
    const __m128i letter = _mm_cmplt_epi8(_mm_sub_epi8(folded, _mm_set1_epi8(static_cast<char>('a' + 0x80))),
                                          _mm_set1_epi8(static_cast<char>(26 - 0x80)));
    const __m128i digit = _mm_cmplt_epi8(_mm_sub_epi8(v, _mm_set1_epi8(static_cast<char>('0' + 0x80))),
                                         _mm_set1_epi8(static_cast<char>(10 - 0x80)));
    const __m128i dash = _mm_cmpeq_epi8(v, _mm_set1_epi8('-'));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, digit), dash)));
  }

  static size_t name_length(const uint8_t* p) {
    const uint64_t first = name_bits(p);
    if (first != 0xffff) return lowest_bit(~first);
    return 16 + lowest_bit(~static_cast<uint64_t>(name_bits(p + 16)));
  }

  static uint64_t target_bad(const uint8_t* p) {
    const __m128i v = load16(p);
    // v <= ' ' (unsigned) iff min(v, ' ') == v.
    const __m128i bad = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(' ')), v),
                                     _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
    return static_cast<unsigned>(_mm_movemask_epi8(bad));
  }
};
#endif

#ifdef STICKY_HEAD_AVX2
// 32 bytes at a time, and for names exact: a byte is a token byte iff the bit
// for its high nibble (0x2 to 0x7 are bits 0 to 5) is set in the table entry
// for its low nibble. The line loop's constants are built once per scan and
// hidden from the optimiser: left as expressions, GCC builds them again at
// every use inside the loop.
struct Avx2 {
  static constexpr size_t kNameBlock = 32;
  static constexpr size_t kTargetBlock = 32;

  __m256i lf, low_nibble, token_by_low, token_by_high;

  STICKY_AVX2 Avx2()
      : lf(_mm256_set1_epi8('\n')),
        low_nibble(_mm256_set1_epi8(0x0f)),
        token_by_low(_mm256_setr_epi8(0x3a, 0x3f, 0x3e, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3e, 0x3e, 0x3d, 0x15, 0x34,
                                      0x15, 0x3d, 0x1c, 0x3a, 0x3f, 0x3e, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3e, 0x3e,
                                      0x3d, 0x15, 0x34, 0x15, 0x3d, 0x1c)),
        token_by_high(_mm256_setr_epi8(0, 0, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
                                       0x02, 0x04, 0x08, 0x10, 0x20, 0, 0, 0, 0, 0, 0, 0, 0)) {
    __asm__("" : "+x"(lf), "+x"(low_nibble), "+x"(token_by_low), "+x"(token_by_high));
  }

  STICKY_AVX2 static __m256i load32(const uint8_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }

  STICKY_AVX2 uint64_t lf_mask64(const uint8_t* p) const {
    const uint32_t low = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(load32(p), lf)));
    const uint32_t high = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(load32(p + 32), lf)));
    return static_cast<uint64_t>(high) << 32 | low;
  }

  // How many of p[0, 32) lead with token bytes (32 if all do).
  STICKY_AVX2 size_t name_length(const uint8_t* p) const {
    const __m256i v = load32(p);
    const __m256i by_low = _mm256_shuffle_epi8(token_by_low, _mm256_and_si256(v, low_nibble));
    const __m256i by_high = _mm256_shuffle_epi8(token_by_high, _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibble));
    const __m256i other = _mm256_cmpeq_epi8(_mm256_and_si256(by_low, by_high), _mm256_setzero_si256());
    return _tzcnt_u32(static_cast<unsigned>(_mm256_movemask_epi8(other)));  // 32 when all are
  }

  STICKY_AVX2 uint64_t target_bad(const uint8_t* p) const {
    const __m256i v = load32(p);
    const __m256i bad = _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(' ')), v),
                                        _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7f)));
    return static_cast<uint32_t>(_mm256_movemask_epi8(bad));
  }
};

// Whether this CPU (and its OS) runs AVX2 code; asked once, at load.
bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
}

const bool kHasAvx2 = cpu_has_avx2();
#endif

#ifdef STICKY_HEAD_SSE2
// Where the line reading is: the LFs come from a bit mask of the LFs in a
// 64-byte window, so the next line's start costs a few bit operations, not a
// search each line would wait for, and the lines' other work overlaps.
struct LineCursor {
  size_t base = 0 - size_t{64};  // start of the window
  uint64_t bits = 0;             // bit k: buf[base + k] is an LF not yet passed
};

// Sets *at to the next LF; false when there is none. `buf` holds at least 64
// bytes (a shorter head is copied to a block of 64 first), and windows
// starting below `full_end` lie wholly in [0, len).
template <class Simd>
STICKY_INLINE bool next_lf(const Simd& simd, const uint8_t* buf, size_t len, size_t full_end, LineCursor* c,
                           size_t* at) {
  if (c->bits == 0) {
    do {
      c->base += 64;
      if (STICKY_UNLIKELY(c->base >= full_end)) {
        if (c->base >= len) return false;
        // The last 64 bytes of the block, shifted so that bit 0 is base: past
        // len a short head's block holds only zeros.
        const size_t block_end = len >= 64 ? len : 64;
        c->bits = simd.lf_mask64(buf + block_end - 64) >> (64 - (block_end - c->base));
      } else {
        c->bits = simd.lf_mask64(buf + c->base);
      }
    } while (STICKY_UNLIKELY(c->bits == 0));
  }
  *at = c->base + lowest_bit(c->bits);
  c->bits &= c->bits - 1;
  return true;
}
#else
// Without SSE2 the byte loops read every name and target, and memchr
// (vectorised in most C libraries) finds each line end.
struct Portable {
  static constexpr size_t kNameBlock = 0;
  static constexpr size_t kTargetBlock = 0;
  static size_t name_length(const uint8_t*) { return 0; }
  static uint64_t target_bad(const uint8_t*) { return 0; }
};

struct LineCursor {
  size_t from = 0;  // where the next search for an LF starts
};

// Sets *at to the next LF; false when there is none: memchr.
template <class Simd>
bool next_lf(const Simd&, const uint8_t* buf, size_t len, size_t, LineCursor* c, size_t* at) {
  const void* found = std::memchr(buf + c->from, '\n', len - c->from);
  if (found == nullptr) return false;
  *at = static_cast<size_t>(static_cast<const uint8_t*>(found) - buf);
  c->from = *at + 1;
  return true;
}
#endif

// ---------------------------------------------------------------- the head

// Whether the header name [name, name + len) equals `header_lower`, ASCII
// letters compared without case. The name is token bytes, all ASCII, so a
// byte matches iff it is equal, or is a letter and differs only in 0x20.
STICKY_INLINE bool same_name(const uint8_t* name, const char* header_lower, size_t len) {
  if (len < 8) {
    for (size_t k = 0; k < len; ++k) {
      if (kBytes.lower[name[k]] != kBytes.lower[static_cast<uint8_t>(header_lower[k])]) return false;
    }
    return true;
  }
  constexpr uint64_t kOnes = 0x0101010101010101u;
  constexpr uint64_t kHighs = 0x8080808080808080u;
  // Eight bytes at a time; the last eight overlap the ones before, so that no
  // byte is left for a byte loop.
  for (size_t k = 0;; k += 8) {
    if (k > len - 8) k = len - 8;
    uint64_t a;
    uint64_t b;
    std::memcpy(&a, name + k, 8);
    std::memcpy(&b, header_lower + k, 8);
    // High bit of each byte: a | 0x20 is in 'a'..'z' (no carries: a < 0x80).
    const uint64_t folded = a | (0x20 * kOnes);
    const uint64_t letter = (folded + (0x80 - 'a') * kOnes) & ~(folded + (0x7f - 'z') * kOnes) & kHighs;
    // Where a letter is, 0x20 may differ; `letter >> 2` puts 0x20 in those bytes.
    if (((a ^ b) & ~(letter >> 2)) != 0) return false;
    if (k == len - 8) return true;
  }
}

// Request line: method SP target SP "HTTP/" DIGIT "." DIGIT [CR] LF. Returns
// where the header lines start, or 0 with *status set: NotHttp, or NeedMore
// when the bytes ran out first.
template <class Simd>
STICKY_INLINE size_t read_request_line(const Simd& simd, const uint8_t* buf, size_t len, HeadStatus* status) {
  *status = HeadStatus::NotHttp;
  size_t i = 0;
  const size_t method_seen = len <= kMaxMethodLength ? len : kMaxMethodLength + 1;
  while (i < method_seen && kBytes.token[buf[i]]) ++i;
  if (i > kMaxMethodLength) return 0;
  if (i == len) {
    *status = HeadStatus::NeedMore;
    return 0;
  }
  if (buf[i] != ' ' || i == 0) return 0;
  const size_t target_start = ++i;
  // Target: whole blocks while they last, then a byte at a time.
  for (; Simd::kTargetBlock != 0 && len - i > Simd::kTargetBlock; i += Simd::kTargetBlock) {
    const uint64_t bad = simd.target_bad(buf + i);
    if (bad != 0) {
      i += lowest_bit(bad);
      break;
    }
  }
  while (i < len && buf[i] > ' ' && buf[i] != 0x7f) ++i;
  if (i == len) {
    *status = HeadStatus::NeedMore;
    return 0;
  }
  if (buf[i] != ' ' || i == target_start) return 0;
  ++i;
  static const char kVersion[] = "HTTP/#.#";  // '#' is any digit
  constexpr size_t kVersionLength = sizeof kVersion - 1;
  if (len - i > kVersionLength) {
    const uint8_t* v = buf + i;
    if (std::memcmp(v, kVersion, 5) != 0 || !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7])) return 0;
  } else {
    // Not HTTP as soon as a byte is wrong; enough bytes to be sure of neither, NeedMore.
    for (size_t k = 0; k < kVersionLength && i + k < len; ++k) {
      const uint8_t c = buf[i + k];
      if (kVersion[k] == '#' ? !is_digit(c) : c != kVersion[k]) return 0;
    }
    if (len - i < kVersionLength) {
      *status = HeadStatus::NeedMore;
      return 0;
    }
  }
  i += kVersionLength;
  if (i < len && buf[i] == '\r') ++i;
  if (i == len) {
    *status = HeadStatus::NeedMore;
    return 0;
  }
  if (buf[i] != '\n') return 0;
  return i + 1;
}

// Whether [0, lf], lf the first LF, is a request line read_request_line
// accepts, checked another way: the version found back from the LF, the
// method and the target a block at a time. The checks do not wait on each
// other as read_request_line's, byte after byte, do. False also for the
// unusual (a method of bytes name_length does not take), left to
// read_request_line. `buf` holds at least 64 bytes.
template <class Simd>
STICKY_INLINE bool request_line_ok(const Simd& simd, const uint8_t* buf, size_t lf) {
  if (Simd::kNameBlock == 0) return false;
  // Method: name bytes, then SP (so lf > method, and buf[lf - 1] is there).
  const size_t method = simd.name_length(buf);
  if (method == 0 || method > kMaxMethodLength || buf[method] != ' ') return false;
  // Version: "HTTP/" DIGIT "." DIGIT, then CR LF or LF, after SP.
  const size_t version_end = buf[lf - 1] == '\r' ? lf - 1 : lf;
  if (version_end < method + 11) return false;
  const uint8_t* version = buf + version_end - 8;
  if (std::memcmp(version, "HTTP/", 5) != 0 || !is_digit(version[5]) || version[6] != '.' || !is_digit(version[7]) ||
      version[-1] != ' ') {
    return false;
  }
  // Target: [method + 1, version - 1), no CTL, SP or DEL. Whole blocks, the
  // last one overlapping the one before it; a short target is the start of one.
  const size_t target_end = version_end - 9;
  const size_t start = method + 1;
  if (target_end - start < Simd::kTargetBlock) {
    return (simd.target_bad(buf + start) & ((uint64_t{1} << (target_end - start)) - 1)) == 0;
  }
  uint64_t bad = simd.target_bad(buf + target_end - Simd::kTargetBlock);
  for (size_t at = start; at < target_end - Simd::kTargetBlock; at += Simd::kTargetBlock) {
    bad |= simd.target_bad(buf + at);
  }
  return bad == 0;
}

enum class LineStatus { Match, EndOfHead, NotHttp, OutOfBytes };

// The name of the line at `i` when it is not the common case: a rarer token
// byte, a long name, the last bytes, or no name at all (the empty line that
// ends the head, or not HTTP). Its length when it is good, else 0 and *status.
STICKY_INLINE size_t read_name(const uint8_t* buf, size_t len, size_t i, LineStatus* status) {
  size_t end = i;
  while (end < len && kBytes.token[buf[end]]) ++end;
  if (end == len) {
    *status = LineStatus::OutOfBytes;
  } else if (end == i) {
    if (buf[i] == '\n') {
      *status = LineStatus::EndOfHead;
    } else if (buf[i] != '\r') {
      *status = LineStatus::NotHttp;
    } else if (i + 1 == len) {
      *status = LineStatus::OutOfBytes;
    } else {
      *status = buf[i + 1] == '\n' ? LineStatus::EndOfHead : LineStatus::NotHttp;
    }
  } else if (buf[end] != ':') {
    *status = LineStatus::NotHttp;
  } else {
    return end - i;
  }
  return 0;
}

// A header line whose name matched: its value runs from after the ':' to the
// LF, less a CR right before the LF; the next line starts after the LF.
struct HeaderLine {
  size_t value_start;
  size_t value_end;
  size_t next;
};

// Reads header lines from `i` until one is named `header`, the empty line
// ends the head, a line is not HTTP, or the bytes run out.
template <class Simd>
STICKY_INLINE LineStatus next_header_line(const Simd& simd, const uint8_t* buf, size_t len, const char* header,
                                          size_t header_len, size_t i, LineCursor* cursor, HeaderLine* line) {
  // Names that start below name_block_end can be read as a block, with the
  // byte after it; full LF windows start below full_end.
  const size_t block_room = Simd::kNameBlock != 0 && len > Simd::kNameBlock ? len - Simd::kNameBlock : 0;
  const uint8_t* const name_block_end = buf + block_room;
  const size_t full_end = len >= 64 ? len - 63 : 0;
  LineCursor c = *cursor;
  const uint8_t* name = buf + i;
  for (;;) {
    // Name: one or more token characters, then ':'. The common case read as
    // one block: name bytes up to the ':'.
    size_t name_length = 0;
    if (STICKY_LIKELY(name < name_block_end)) {
      name_length = simd.name_length(name);
      if (STICKY_UNLIKELY(name[name_length] != ':')) name_length = 0;
    }
    if (STICKY_UNLIKELY(name_length == 0)) {
      LineStatus status;
      name_length = read_name(buf, len, static_cast<size_t>(name - buf), &status);
      if (name_length == 0) return status;
    }
    size_t line_end;
    if (!next_lf(simd, buf, len, full_end, &c, &line_end)) return LineStatus::OutOfBytes;
    if (STICKY_UNLIKELY(name_length == header_len) && same_name(name, header, header_len)) {
      *cursor = c;
      line->value_start = static_cast<size_t>(name - buf) + name_length + 1;
      line->value_end = line_end > line->value_start && buf[line_end - 1] == '\r' ? line_end - 1 : line_end;
      line->next = line_end + 1;
      return LineStatus::Match;
    }
    name = buf + line_end + 1;
  }
}

template <class Simd>
STICKY_INLINE HeadScan scan_head_with(const Simd& simd, const uint8_t* buf, size_t len, const char* header_lower,
                                      size_t header_len, size_t limit, const HeadRules& rules) {
  // Bytes past the limit are never looked at: the peeker cannot see them, and
  // a reader that happened to receive more must decide the same.
  if (len > limit) len = limit;
  // What to answer when the bytes run out before anything was decided.
  const HeadStatus out_of_bytes = len >= limit ? HeadStatus::TooLarge : HeadStatus::NeedMore;

#ifdef STICKY_HEAD_SSE2
  // Blocks are read up to 64 bytes at a time: a shorter head is copied to a
  // block of 64 (zeros after it, never taken for bytes), read instead.
  uint8_t block[64];
  if (len < 64) {
    std::memset(block, 0, sizeof block);
    std::memcpy(block, buf, len);
    buf = block;
  }
#endif
  // The first LF ends the request line, if it is one; the lines are then found
  // from there without waiting for its checks.
  LineCursor cursor;
  size_t i;
  size_t request_end;
  if (next_lf(simd, buf, len, len >= 64 ? len - 63 : 0, &cursor, &request_end) &&
      request_line_ok(simd, buf, request_end)) {
    i = request_end + 1;
  } else {
    // Not the usual request line, or not all of it yet: read it byte by byte.
    HeadStatus status;
    i = read_request_line(simd, buf, len, &status);
    if (i == 0) return result(status == HeadStatus::NeedMore ? out_of_bytes : status);
  }

  // Header lines, up to the empty line. The leftmost pick is decided by the
  // first matching line; the rightmost-untrusted pick reads them all.
  HeaderLine line;
  LineStatus status = next_header_line(simd, buf, len, header_lower, header_len, i, &cursor, &line);
  if (status == LineStatus::Match && rules.pick == AddressPick::Leftmost) {
    return decide_leftmost(buf, len, line.value_start, line.value_end, rules.format);
  }
  RightmostUntrusted rightmost(rules.trusted);
  while (status == LineStatus::Match) {
    rightmost.add_line(buf, line.value_start, line.value_end, rules.format);
    status = next_header_line(simd, buf, len, header_lower, header_len, line.next, &cursor, &line);
  }
  switch (status) {
    case LineStatus::EndOfHead:
      return rightmost.decide();
    case LineStatus::NotHttp:
      return result(HeadStatus::NotHttp);
    default:
      return result(out_of_bytes);
  }
}

// One entry point per instruction set, each with the whole scanner inlined.
#ifdef STICKY_HEAD_AVX2
STICKY_AVX2 HeadScan scan_head_avx2(const uint8_t* buf, size_t len, const char* header_lower, size_t header_len,
                                    size_t limit, const HeadRules& rules) {
  return scan_head_with(Avx2(), buf, len, header_lower, header_len, limit, rules);
}
#endif

#ifdef STICKY_HEAD_SSE2
// Not inlined into scan_head, which stays a small dispatcher.
STICKY_NOINLINE HeadScan scan_head_sse2(const uint8_t* buf, size_t len, const char* header_lower,
                                        size_t header_len, size_t limit, const HeadRules& rules) {
  return scan_head_with(Sse2(), buf, len, header_lower, header_len, limit, rules);
}
#else
HeadScan scan_head_portable(const uint8_t* buf, size_t len, const char* header_lower, size_t header_len,
                            size_t limit, const HeadRules& rules) {
  return scan_head_with(Portable(), buf, len, header_lower, header_len, limit, rules);
}
#endif

}  // namespace

HeadScan scan_head(const uint8_t* buf, size_t len, const char* header_lower, size_t header_len,
                   size_t limit, const HeadRules& rules) {
#ifdef STICKY_HEAD_AVX2
  if (kHasAvx2) return scan_head_avx2(buf, len, header_lower, header_len, limit, rules);
#endif
#ifdef STICKY_HEAD_SSE2
  return scan_head_sse2(buf, len, header_lower, header_len, limit, rules);
#else
  return scan_head_portable(buf, len, header_lower, header_len, limit, rules);
#endif
}

}  // namespace sticky
