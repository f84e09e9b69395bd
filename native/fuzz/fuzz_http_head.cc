// libFuzzer entry for the parsers that see untrusted bytes: scan_head on the
// input as a request head, and parse_address on the input as text. Besides
// memory errors (ASan), it checks the one promise a caller relies on across
// calls: once a prefix is decided, one more byte does not change the answer.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../address.h"
#include "../http_head.h"

namespace {

constexpr char kHeader[] = "x-forwarded-for";
constexpr size_t kHeaderLength = sizeof kHeader - 1;

bool is_decided(sticky::HeadStatus status) {
  return status != sticky::HeadStatus::NeedMore && status != sticky::HeadStatus::TooLarge;
}

bool same(const sticky::HeadScan& a, const sticky::HeadScan& b) {
  if (a.status != b.status) return false;
  return a.status != sticky::HeadStatus::Found || std::memcmp(a.address, b.address, 16) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint8_t address[16];
  sticky::parse_address(reinterpret_cast<const char*>(data), size, address);

  const sticky::HeadScan whole = sticky::scan_head(data, size, kHeader, kHeaderLength, 8192);
  if (size > 0) {
    const sticky::HeadScan shorter = sticky::scan_head(data, size - 1, kHeader, kHeaderLength, 8192);
    if (is_decided(shorter.status) && !same(shorter, whole)) __builtin_trap();
  }
  // A limit L answers like the first L bytes would, with need-more turned into too-large.
  if (size > 0) {
    const size_t limit = data[0] % size + 1;
    const sticky::HeadScan limited = sticky::scan_head(data, size, kHeader, kHeaderLength, limit);
    const sticky::HeadScan first = sticky::scan_head(data, limit, kHeader, kHeaderLength, 8192);
    if (first.status == sticky::HeadStatus::NeedMore ? limited.status != sticky::HeadStatus::TooLarge
                                                     : !same(limited, first)) {
      __builtin_trap();
    }
  }
  return 0;
}
