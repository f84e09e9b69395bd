// libFuzzer entry for scan_proxy_header. Besides memory errors (ASan, UBSan),
// it checks the promises a caller relies on: once a prefix is decided, one more
// byte does not change the answer; a header never claims bytes not yet seen;
// and a found or local header answers the same when cut at its own length.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../proxy_header.h"

namespace {

using sticky::ProxyScan;
using sticky::ProxyStatus;

bool same(const ProxyScan& a, const ProxyScan& b) {
  return a.status == b.status && a.header_length == b.header_length &&
         std::memcmp(a.source, b.source, 16) == 0 && a.source_port == b.source_port &&
         std::memcmp(a.destination, b.destination, 16) == 0 &&
         a.destination_port == b.destination_port && a.family == b.family;
}

bool has_header(ProxyStatus status) { return status == ProxyStatus::Found || status == ProxyStatus::Local; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ProxyScan whole = sticky::scan_proxy_header(data, size);
  if (whole.header_length > size) __builtin_trap();
  if (has_header(whole.status) != (whole.header_length > 0)) __builtin_trap();
  if ((whole.status == ProxyStatus::Found) != (whole.family == 4 || whole.family == 6)) __builtin_trap();
  if (size > 0) {
    const ProxyScan shorter = sticky::scan_proxy_header(data, size - 1);
    if (shorter.status != ProxyStatus::NeedMore && !same(shorter, whole)) __builtin_trap();
  }
  if (has_header(whole.status)) {
    const ProxyScan exact = sticky::scan_proxy_header(data, whole.header_length);
    if (!same(exact, whole)) __builtin_trap();
  }
  return 0;
}
