#include "proxy_header.h"

#include "address.h"

namespace sticky {
namespace {

// The bytes a header of each version starts with. Any other first bytes mean
// the connection carries no PROXY header at all.
constexpr char kV1Signature[] = "PROXY ";
constexpr char kV2Signature[] = "\r\n\r\n\0\r\nQUIT\n";
constexpr size_t kV2FixedLength = 16;  // signature, version/command, family/transport, length

// v2 byte 13: the address family (high nibble) and transport (low nibble);
// 0 is UNSPEC in both.
constexpr uint8_t kFamilyInet = 1, kFamilyInet6 = 2, kFamilyUnix = 3;
constexpr uint8_t kTransportStream = 1, kTransportDgram = 2;
// Bytes of the address block for a stream transport, by family (UNSPEC has none).
constexpr size_t kAddressBlockLength[] = {0, 12, 36, 216};

enum class Step { Ok, OutOfBytes, Mismatch };

ProxyScan result(ProxyStatus status) { return ProxyScan{status, 0, {}, 0, {}, 0, 0}; }

ProxyScan local(size_t header_length) {
  ProxyScan scan = result(ProxyStatus::Local);
  scan.header_length = header_length;
  return scan;
}

bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

bool is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Matches the N - 1 bytes of `text` at i, advancing i past what matched.
template <size_t N>
Step match(const uint8_t* buf, size_t& i, size_t limit, const char (&text)[N]) {
  for (size_t k = 0; k + 1 < N; ++k, ++i) {
    if (i == limit) return Step::OutOfBytes;
    if (buf[i] != static_cast<uint8_t>(text[k])) return Step::Mismatch;
  }
  return Step::Ok;
}

// What a v1 field may hold. Any other byte than these and the field's
// delimiter makes the line malformed right there.
enum class V1Field { Ipv4, Ipv6, Port };

bool fits_field(V1Field kind, uint8_t c) {
  switch (kind) {
    case V1Field::Ipv4: return is_digit(c) || c == '.';
    case V1Field::Ipv6: return is_hex(c) || c == ':' || c == '.';
    case V1Field::Port: return is_digit(c);
  }
  return false;
}

struct Field {
  Step step;
  size_t start;
  size_t end;  // the delimiter's position when step is Ok
};

Field read_field(const uint8_t* buf, size_t i, size_t limit, V1Field kind, uint8_t delimiter) {
  const size_t start = i;
  for (; i < limit; ++i) {
    if (buf[i] == delimiter) return Field{Step::Ok, start, i};
    if (!fits_field(kind, buf[i])) return Field{Step::Mismatch, start, i};
  }
  return Field{Step::OutOfBytes, start, i};
}

// A v1 address in the header's family. address.h reads the text, after the
// checks it does not make: the spec forbids leading zeros in a dotted quad
// (address.h reads "010" as ten), and an IPv6 field must be IPv6 text, which
// rules out "a.b.c.d" and "a.b.c.d:port" (address.h accepts both). The field's
// characters (fits_field) already exclude brackets, zone ids and spaces.
bool parse_v1_address(const uint8_t* text, size_t len, bool ipv6, uint8_t out[16]) {
  size_t dotted = 0;  // where the dotted quad may start: all of IPv4, after the last ':' of IPv6
  if (ipv6) {
    bool colon = false;
    for (size_t k = 0; k < len; ++k) {
      if (text[k] == ':') {
        colon = true;
        dotted = k + 1;
      }
    }
    if (!colon) return false;
    for (size_t k = 0; k < dotted; ++k) {
      if (text[k] == '.') return false;
    }
  }
  bool has_dot = false;
  for (size_t k = dotted; k < len; ++k) has_dot = has_dot || text[k] == '.';
  if (has_dot) {
    for (size_t k = dotted; k + 1 < len; ++k) {
      const bool part_start = k == dotted || text[k - 1] == '.';
      if (part_start && text[k] == '0' && text[k + 1] != '.') return false;
    }
  }
  return parse_address(reinterpret_cast<const char*>(text), len, out);
}

// 1..5 decimal digits (fits_field checked them) without a leading zero, at most 65535.
bool parse_port(const uint8_t* text, size_t len, uint16_t& out) {
  if (len == 0 || len > 5 || (len > 1 && text[0] == '0')) return false;
  uint32_t value = 0;
  for (size_t k = 0; k < len; ++k) value = value * 10 + (text[k] - '0');
  if (value > 65535) return false;
  out = static_cast<uint16_t>(value);
  return true;
}

// After "PROXY ": "TCP4 " or "TCP6 ", source, destination, ports, CRLF; or
// "UNKNOWN", then either CRLF or a space and anything up to the first CR.
ProxyScan scan_v1(const uint8_t* buf, size_t len) {
  // The line must end within its first 107 bytes, so they decide everything,
  // and running out of them without an answer is malformed.
  const size_t limit = len < kProxyV1MaxLength ? len : kProxyV1MaxLength;
  const ProxyScan out_of_bytes =
      result(len >= kProxyV1MaxLength ? ProxyStatus::Malformed : ProxyStatus::NeedMore);
  const ProxyScan malformed = result(ProxyStatus::Malformed);
  const auto failed = [&](Step step) { return step == Step::OutOfBytes ? out_of_bytes : malformed; };
  size_t i = sizeof kV1Signature - 1;

  if (i == limit) return out_of_bytes;
  if (buf[i] == 'U') {
    const Step step = match(buf, i, limit, "UNKNOWN");
    if (step != Step::Ok) return failed(step);
    if (i == limit) return out_of_bytes;
    if (buf[i] == ' ') {
      // The receiver ignores the rest of an UNKNOWN line; a bare LF still
      // cannot be inside a line.
      for (++i; i < limit && buf[i] != '\r'; ++i) {
        if (buf[i] == '\n') return malformed;
      }
      if (i == limit) return out_of_bytes;
    } else if (buf[i] != '\r') {
      return malformed;
    }
    ++i;
    if (i == limit) return out_of_bytes;
    return buf[i] == '\n' ? local(i + 1) : malformed;
  }

  const Step step = match(buf, i, limit, "TCP");
  if (step != Step::Ok) return failed(step);
  if (i == limit) return out_of_bytes;
  if (buf[i] != '4' && buf[i] != '6') return malformed;
  const bool ipv6 = buf[i] == '6';
  ++i;
  if (i == limit) return out_of_bytes;
  if (buf[i] != ' ') return malformed;
  ++i;

  ProxyScan scan = result(ProxyStatus::Found);
  scan.family = ipv6 ? 6 : 4;
  const V1Field address_kind = ipv6 ? V1Field::Ipv6 : V1Field::Ipv4;

  Field field = read_field(buf, i, limit, address_kind, ' ');
  if (field.step != Step::Ok) return failed(field.step);
  if (!parse_v1_address(buf + field.start, field.end - field.start, ipv6, scan.source)) return malformed;

  field = read_field(buf, field.end + 1, limit, address_kind, ' ');
  if (field.step != Step::Ok) return failed(field.step);
  if (!parse_v1_address(buf + field.start, field.end - field.start, ipv6, scan.destination)) {
    return malformed;
  }

  field = read_field(buf, field.end + 1, limit, V1Field::Port, ' ');
  if (field.step != Step::Ok) return failed(field.step);
  if (!parse_port(buf + field.start, field.end - field.start, scan.source_port)) return malformed;

  field = read_field(buf, field.end + 1, limit, V1Field::Port, '\r');
  if (field.step != Step::Ok) return failed(field.step);
  if (!parse_port(buf + field.start, field.end - field.start, scan.destination_port)) return malformed;

  i = field.end + 1;
  if (i == limit) return out_of_bytes;
  if (buf[i] != '\n') return malformed;
  scan.header_length = i + 1;
  return scan;
}

// TLVs after the address block must tile the rest of the header exactly:
// each a type byte, a two-byte length and that many value bytes.
bool tlvs_fit(const uint8_t* buf, size_t i, size_t end) {
  while (i < end) {
    if (end - i < 3) return false;
    const size_t value_length = static_cast<size_t>(buf[i + 1]) << 8 | buf[i + 2];
    if (end - i - 3 < value_length) return false;
    i += 3 + value_length;
  }
  return true;
}

uint16_t read_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// After the 12-byte signature. Each fixed byte is judged as soon as it
// arrives; the header as a whole once all of its bytes have.
ProxyScan scan_v2(const uint8_t* buf, size_t len) {
  const ProxyScan need_more = result(ProxyStatus::NeedMore);
  const ProxyScan malformed = result(ProxyStatus::Malformed);

  if (len < 13) return need_more;
  // Version 2 only; command LOCAL (0) or PROXY (1).
  if ((buf[12] >> 4) != 2 || (buf[12] & 0x0f) > 1) return malformed;
  const bool proxy_command = (buf[12] & 0x0f) == 1;

  if (len < 14) return need_more;
  const uint8_t family = buf[13] >> 4;
  const uint8_t transport = buf[13] & 0x0f;
  size_t address_length = 0;  // the address block this header must hold
  // LOCAL ignores the family byte altogether, as the spec says.
  if (proxy_command) {
    if (family > kFamilyUnix || transport > kTransportDgram) return malformed;
    // Our listener is TCP: a proxied datagram flow cannot be this connection.
    if (transport == kTransportDgram) return malformed;
    if (transport == kTransportStream) address_length = kAddressBlockLength[family];
  }

  if (len < kV2FixedLength) return need_more;
  const size_t header_length = kV2FixedLength + read_u16(buf + 14);
  if (header_length > kProxyV2MaxLength || header_length < kV2FixedLength + address_length) {
    return malformed;
  }

  if (len < header_length) return need_more;
  if (address_length > 0 && !tlvs_fit(buf, kV2FixedLength + address_length, header_length)) {
    return malformed;
  }
  // LOCAL, an UNSPEC family or transport, and AF_UNIX carry no IP address:
  // the caller routes by the peer.
  const bool has_ip = proxy_command && transport == kTransportStream &&
                      (family == kFamilyInet || family == kFamilyInet6);
  if (!has_ip) return local(header_length);

  ProxyScan scan = result(ProxyStatus::Found);
  scan.header_length = header_length;
  const uint8_t* block = buf + kV2FixedLength;
  if (family == kFamilyInet) {
    scan.family = 4;
    scan.source[10] = scan.source[11] = 0xff;
    scan.destination[10] = scan.destination[11] = 0xff;
    for (size_t k = 0; k < 4; ++k) {
      scan.source[12 + k] = block[k];
      scan.destination[12 + k] = block[4 + k];
    }
    block += 8;
  } else {
    scan.family = 6;
    for (size_t k = 0; k < 16; ++k) {
      scan.source[k] = block[k];
      scan.destination[k] = block[16 + k];
    }
    block += 32;
  }
  scan.source_port = read_u16(block);
  scan.destination_port = read_u16(block + 2);
  return scan;
}

}  // namespace

ProxySignature proxy_signature(const uint8_t* buf, size_t len) {
  if (len == 0) return ProxySignature::NeedMore;
  // The two signatures differ in their first byte.
  const bool v1 = buf[0] == static_cast<uint8_t>(kV1Signature[0]);
  const bool v2 = buf[0] == static_cast<uint8_t>(kV2Signature[0]);
  if (!v1 && !v2) return ProxySignature::None;
  size_t i = 0;
  switch (v1 ? match(buf, i, len, kV1Signature) : match(buf, i, len, kV2Signature)) {
    case Step::OutOfBytes: return ProxySignature::NeedMore;
    case Step::Mismatch: return ProxySignature::None;
    case Step::Ok: break;
  }
  return v1 ? ProxySignature::V1 : ProxySignature::V2;
}

ProxyScan scan_proxy_header(const uint8_t* buf, size_t len) {
  switch (proxy_signature(buf, len)) {
    case ProxySignature::NeedMore: return result(ProxyStatus::NeedMore);
    case ProxySignature::None: return result(ProxyStatus::NotProxy);
    case ProxySignature::V1: return scan_v1(buf, len);
    case ProxySignature::V2: return scan_v2(buf, len);
  }
  return result(ProxyStatus::NotProxy);
}

}  // namespace sticky
