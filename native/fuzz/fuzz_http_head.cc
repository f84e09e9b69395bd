// libFuzzer entry for the parsers that see untrusted bytes: scan_head on the
// input as a request head, and parse_address on the input as text. Besides
// memory errors (ASan), it checks the one promise a caller relies on across
// calls: once a prefix is decided, one more byte does not change the answer.
// The first byte of the input also picks the header rules, so the Forwarded
// format and the rightmost-untrusted pick (with a small trust list) are
// fuzzed as much as the leftmost one.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../address.h"
#include "../cidr.h"
#include "../http_head.h"

namespace {

bool is_decided(sticky::HeadStatus status) {
  return status != sticky::HeadStatus::NeedMore && status != sticky::HeadStatus::TooLarge;
}

bool same(const sticky::HeadScan& a, const sticky::HeadScan& b) {
  if (a.status != b.status) return false;
  return a.status != sticky::HeadStatus::Found || std::memcmp(a.address, b.address, 16) == 0;
}

sticky::CidrSet make_trusted() {
  sticky::CidrSet set;
  for (const char* range : {"127.0.0.0/8", "::1", "10.0.0.0/8", "2001:db8::/32"}) {
    sticky::add_cidr(set, range, std::strlen(range));
  }
  return set;
}

const sticky::CidrSet kTrusted = make_trusted();

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint8_t address[16];
  sticky::parse_address(reinterpret_cast<const char*>(data), size, address);

  const bool forwarded = size > 0 && (data[0] & 1) != 0;
  const char* header = forwarded ? "forwarded" : "x-forwarded-for";
  const size_t header_length = std::strlen(header);
  sticky::HeadRules rules;
  rules.format = forwarded ? sticky::HeaderFormat::Forwarded : sticky::HeaderFormat::List;
  rules.pick = size > 0 && (data[0] & 2) != 0 ? sticky::AddressPick::RightmostUntrusted
                                               : sticky::AddressPick::Leftmost;
  rules.trusted = &kTrusted;
  const auto scan = [&](size_t length, size_t limit) {
    return sticky::scan_head(data, length, header, header_length, limit, rules);
  };

  const sticky::HeadScan whole = scan(size, 8192);
  if (size > 0) {
    const sticky::HeadScan shorter = scan(size - 1, 8192);
    if (is_decided(shorter.status) && !same(shorter, whole)) __builtin_trap();
  }
  // A limit L answers like the first L bytes would, with need-more turned into too-large.
  if (size > 0) {
    const size_t limit = data[0] % size + 1;
    const sticky::HeadScan limited = scan(size, limit);
    const sticky::HeadScan first = scan(limit, 8192);
    if (first.status == sticky::HeadStatus::NeedMore ? limited.status != sticky::HeadStatus::TooLarge
                                                     : !same(limited, first)) {
      __builtin_trap();
    }
  }
  return 0;
}
