// Scans the bytes received so far of a connection for a PROXY protocol header,
// version 1 (text) or 2 (binary), per docs/internals.md "scanProxyHeader". The
// TypeScript twin is src/fallback/proxy-header.ts; both are checked against
// test/vectors/proxy-header.json.
#ifndef STICKY_PROXY_HEADER_H
#define STICKY_PROXY_HEADER_H

#include <cstddef>
#include <cstdint>

namespace sticky {

// v1: the longest line the spec allows, CRLF included ("PROXY UNKNOWN" with
// two full IPv6 addresses and ports).
constexpr size_t kProxyV1MaxLength = 107;
// v2: 16 + the length field, capped so that a primary peeking at a connection
// needs one bounded buffer. The spec sizes a real header to fit in 536 bytes;
// the address block is at most 216 and the registered TLVs are small.
constexpr size_t kProxyV2MaxLength = 4096;

enum class ProxyStatus { NeedMore, Found, Local, NotProxy, Malformed };

struct ProxyScan {
  ProxyStatus status;
  size_t header_length;  // Found and Local: the header's byte count; 0 otherwise
  // Found only (zero otherwise): canonical 16-byte addresses (IPv4 written
  // ::ffff:a.b.c.d, as native/address.h does), ports in host order.
  uint8_t source[16];
  uint16_t source_port;
  uint8_t destination[16];
  uint16_t destination_port;
  uint8_t family;  // Found: 4 or 6, as the header declares; 0 otherwise
};

// `buf` is every byte received so far. The bytes are read left to right and
// never past `len`; the first decisive byte ends the scan, so once an answer
// other than NeedMore is given, more bytes never change it.
ProxyScan scan_proxy_header(const uint8_t* buf, size_t len);

// The signature the first bytes start with, which is all a peer not allowed
// to send a header needs to be judged by: None as soon as they cannot start
// either signature (scan_proxy_header then says NotProxy), V1 once they hold
// "PROXY ", V2 once they hold its 12 bytes. Decided answers never change.
enum class ProxySignature { NeedMore, None, V1, V2 };
ProxySignature proxy_signature(const uint8_t* buf, size_t len);

}  // namespace sticky

#endif
