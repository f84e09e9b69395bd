#include "http_head.h"

#include <cstring>

#include "address.h"

namespace sticky {
namespace {

constexpr size_t kMaxMethodLength = 20;

// RFC 9110 tchar: the characters of a method or a header name.
bool is_token(uint8_t c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_ctl(uint8_t c) { return c < 0x20 || c == 0x7f; }
bool is_ows(uint8_t c) { return c == ' ' || c == '\t'; }
uint8_t to_lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

HeadScan result(HeadStatus status) { return HeadScan{status, {}}; }

// Leftmost element of a header value: OWS trimmed, cut at the first ',',
// trimmed again. [start, end) excludes the LF and the CR before it.
HeadScan decide_value(const uint8_t* buf, size_t start, size_t end) {
  while (start < end && is_ows(buf[start])) ++start;
  const void* comma = std::memchr(buf + start, ',', end - start);
  if (comma != nullptr) end = static_cast<const uint8_t*>(comma) - buf;
  while (end > start && is_ows(buf[end - 1])) --end;
  HeadScan scan = result(HeadStatus::Invalid);
  if (parse_address(reinterpret_cast<const char*>(buf + start), end - start, scan.address)) {
    scan.status = HeadStatus::Found;
  }
  return scan;
}

}  // namespace

HeadScan scan_head(const uint8_t* buf, size_t len, const char* header_lower, size_t header_len,
                   size_t limit) {
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
    if (!is_token(buf[i]) || method_length == kMaxMethodLength) return not_http;
  }
  ++i;
  for (size_t target_length = 0;; ++i, ++target_length) {
    if (i == len) return out_of_bytes;
    if (buf[i] == ' ' && target_length > 0) break;
    if (is_ctl(buf[i]) || buf[i] == ' ') return not_http;
  }
  ++i;
  static const char kVersion[] = "HTTP/#.#";  // '#' is any digit
  for (size_t k = 0; k < sizeof kVersion - 1; ++k, ++i) {
    if (i == len) return out_of_bytes;
    const bool ok = kVersion[k] == '#' ? (buf[i] >= '0' && buf[i] <= '9') : buf[i] == kVersion[k];
    if (!ok) return not_http;
  }
  if (i < len && buf[i] == '\r') ++i;
  if (i == len) return out_of_bytes;
  if (buf[i] != '\n') return not_http;
  ++i;

  // Header lines, up to the empty line.
  for (;;) {
    if (i < len && buf[i] == '\r') {
      ++i;
      if (i == len) return out_of_bytes;
      return buf[i] == '\n' ? result(HeadStatus::Missing) : not_http;
    }
    if (i == len) return out_of_bytes;
    if (buf[i] == '\n') return result(HeadStatus::Missing);

    // Name: one or more token characters, then ':'. Compared while read.
    bool matches = true;
    size_t name_length = 0;
    for (;; ++i, ++name_length) {
      if (i == len) return out_of_bytes;
      if (buf[i] == ':' && name_length > 0) break;
      if (!is_token(buf[i])) return not_http;
      matches = matches && name_length < header_len &&
                to_lower(buf[i]) == to_lower(static_cast<uint8_t>(header_lower[name_length]));
    }
    matches = matches && name_length == header_len;
    ++i;

    const void* lf = std::memchr(buf + i, '\n', len - i);
    if (lf == nullptr) return out_of_bytes;
    const size_t line_end = static_cast<const uint8_t*>(lf) - buf;
    if (matches) {
      const size_t value_end = line_end > i && buf[line_end - 1] == '\r' ? line_end - 1 : line_end;
      return decide_value(buf, i, value_end);
    }
    i = line_end + 1;
  }
}

}  // namespace sticky
