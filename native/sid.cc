#include "sid.h"

#include <cstring>

#include "siphash.h"

namespace sticky {

namespace {

constexpr size_t kMaxMethodLength = 20;

// base64url digit values; 0xff for bytes outside the alphabet.
struct Base64UrlTable {
  uint8_t value[256];
  constexpr Base64UrlTable() : value() {
    for (int i = 0; i < 256; ++i) value[i] = 0xff;
    for (int i = 0; i < 26; ++i) {
      value['A' + i] = static_cast<uint8_t>(i);
      value['a' + i] = static_cast<uint8_t>(26 + i);
    }
    for (int i = 0; i < 10; ++i) value['0' + i] = static_cast<uint8_t>(52 + i);
    value['-'] = 62;
    value['_'] = 63;
  }
};
constexpr Base64UrlTable kBase64Url;

bool is_token_char(uint8_t c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

}  // namespace

int verify_sid(const uint8_t* text, size_t len, const uint8_t key[16], size_t workers) {
  if (len != kSidTextLength) return -1;
  uint8_t bytes[kSidBytes];
  for (size_t group = 0; group < kSidTextLength / 4; ++group) {
    uint32_t bits = 0;
    for (size_t k = 0; k < 4; ++k) {
      const uint8_t digit = kBase64Url.value[text[group * 4 + k]];
      if (digit == 0xff) return -1;
      bits = (bits << 6) | digit;
    }
    bytes[group * 3] = static_cast<uint8_t>(bits >> 16);
    bytes[group * 3 + 1] = static_cast<uint8_t>(bits >> 8);
    bytes[group * 3 + 2] = static_cast<uint8_t>(bits);
  }
  const size_t index = (static_cast<size_t>(bytes[0]) << 8) | bytes[1];
  if (index >= workers) return -1;
  const uint64_t tag = siphash24(key, bytes, kSidIndexBytes + kSidRandomBytes);
  uint8_t difference = 0;
  for (size_t i = 0; i < kSidTagBytes; ++i) {
    difference |= static_cast<uint8_t>(tag >> (8 * i)) ^ bytes[kSidIndexBytes + kSidRandomBytes + i];
  }
  return difference == 0 ? static_cast<int>(index) : -1;
}

SidScan scan_sid(const uint8_t* buf, size_t len, const uint8_t key[16], size_t workers,
                 size_t limit) {
  const size_t end = len < limit ? len : limit;
  const SidScan undecided{end >= limit ? SidStatus::TooLarge : SidStatus::NeedMore, -1};
  const SidScan none{SidStatus::None, -1};
  const SidScan not_http{SidStatus::NotHttp, -1};

  size_t at = 0;
  while (at < end && buf[at] != ' ') {
    if (!is_token_char(buf[at]) || at == kMaxMethodLength) return not_http;
    ++at;
  }
  if (at == end) return undecided;
  if (at == 0) return not_http;
  const size_t target = ++at;

  bool in_query = false;
  size_t parameter = 0;  // where the current query parameter starts
  size_t value = 0;      // where the sid value starts; 0 while not in one
  for (; at < end; ++at) {
    const uint8_t c = buf[at];
    const bool target_ends = c == ' ';
    if (!target_ends && (c < 0x20 || c == 0x7f)) return not_http;
    if (target_ends && at == target) return not_http;
    if (value != 0 && (target_ends || c == '&' || c == '#')) {
      const int worker = verify_sid(buf + value, at - value, key, workers);
      return worker < 0 ? none : SidScan{SidStatus::Found, worker};
    }
    // The fragment ends the query (and comes after it, if there is one).
    if (target_ends || c == '#') return none;
    if (!in_query) {
      if (c == '?') {
        in_query = true;
        parameter = at + 1;
      }
    } else if (c == '&') {
      parameter = at + 1;
    } else if (c == '=' && at - parameter == 3 && std::memcmp(buf + parameter, "sid", 3) == 0) {
      value = at + 1;
    }
  }
  return undecided;
}

}  // namespace sticky
