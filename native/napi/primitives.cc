// The stateless primitives, with the shape of src/primitives.ts: each call
// reads its arguments, runs the plain-C++ function and builds its answer.
#include <cmath>
#include <limits>
#include <string>

#include "../address.h"
#include "../http_head.h"
#include "../proxy_header.h"
#include "../sid.h"
#include "../siphash.h"
#include "arguments.h"
#include "errors.h"
#include "exports.h"

namespace sticky {
namespace napi {

namespace {

Napi::Value hash64(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* key;
  size_t key_length;
  if (!read_bytes(info[0], &key, &key_length) || key_length != 16) {
    throw_type_error(env, "hash64: key must be a Buffer of 16 bytes");
    return Napi::Value();
  }
  const uint8_t* address;
  size_t address_length;
  if (!read_bytes(info[1], &address, &address_length)) {
    throw_type_error(env, "hash64: address must be a Buffer");
    return Napi::Value();
  }
  return Napi::BigInt::New(env, siphash24(key, address, address_length));
}

Napi::Value parse_address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    throw_type_error(env, "parseAddress: text must be a string");
    return Napi::Value();
  }
  const std::string text = info[0].As<Napi::String>().Utf8Value();
  uint8_t address[16];
  if (!sticky::parse_address(text.data(), text.size(), address)) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, address, sizeof address);
}

const char* status_name(HeadStatus status) {
  switch (status) {
    case HeadStatus::NeedMore: return "need-more";
    case HeadStatus::Found: return "found";
    case HeadStatus::Missing: return "missing";
    case HeadStatus::Invalid: return "invalid";
    case HeadStatus::NotHttp: return "not-http";
    case HeadStatus::TooLarge: return "too-large";
  }
  return "invalid";
}

// scanHead(head, headerLower, limit, rules?): the trust list is parsed on
// every call, which suits tests and the fallback reader, not a hot path.
Napi::Value scan_head(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* head;
  size_t head_length;
  if (!read_bytes(info[0], &head, &head_length)) {
    throw_type_error(env, "scanHead: head must be a Buffer");
    return Napi::Value();
  }
  if (!info[1].IsString()) {
    throw_type_error(env, "scanHead: headerLower must be a string");
    return Napi::Value();
  }
  const std::string header = info[1].As<Napi::String>().Utf8Value();
  const double limit = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : -1;
  if (!(limit >= 0)) {
    throw_type_error(env, "scanHead: limit must be a number >= 0");
    return Napi::Value();
  }
  // `head.length >= limit` for a fractional or huge limit, as the fallback reads it.
  const double whole_limit = std::ceil(limit);
  const size_t size_limit = whole_limit >= 9007199254740992.0
                                ? std::numeric_limits<size_t>::max()
                                : static_cast<size_t>(whole_limit);
  HeadRules rules;
  CidrSet trusted;
  if (!read_head_rules(env, info[3], "scanHead", &rules, &trusted)) return Napi::Value();
  rules.trusted = &trusted;
  const HeadScan scan = sticky::scan_head(head, head_length, header.data(), header.size(), size_limit, rules);
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", status_name(scan.status));
  result.Set("address", scan.status == HeadStatus::Found
                            ? Napi::Value(Napi::Buffer<uint8_t>::Copy(env, scan.address, 16))
                            : env.Null());
  return result;
}

const char* sid_status_name(SidStatus status) {
  switch (status) {
    case SidStatus::NeedMore: return "need-more";
    case SidStatus::Found: return "found";
    case SidStatus::None: return "none";
    case SidStatus::NotHttp: return "not-http";
    case SidStatus::TooLarge: return "too-large";
  }
  return "none";
}

// scanSid(head, key, workers, limit) -> { status, worker }
Napi::Value scan_sid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* head;
  size_t head_length;
  const uint8_t* key;
  size_t key_length;
  double workers, limit;
  if (!read_bytes(info[0], &head, &head_length) || !read_bytes(info[1], &key, &key_length) ||
      key_length != 16 || !read_whole_number(info[2], 0.0, 65536.0, &workers) ||
      !read_whole_number(info[3], 0.0, 4294967295.0, &limit)) {
    throw_type_error(env, "scanSid: (head: Buffer, key: 16-byte Buffer, workers: 0..65536, limit: integer >= 0)");
    return Napi::Value();
  }
  const SidScan scan =
      sticky::scan_sid(head, head_length, key, static_cast<size_t>(workers), static_cast<size_t>(limit));
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", sid_status_name(scan.status));
  result.Set("worker", static_cast<double>(scan.worker));
  return result;
}

const char* proxy_status_name(ProxyStatus status) {
  switch (status) {
    case ProxyStatus::NeedMore: return "need-more";
    case ProxyStatus::Found: return "found";
    case ProxyStatus::Local: return "local";
    case ProxyStatus::NotProxy: return "not-proxy";
    case ProxyStatus::Malformed: return "malformed";
  }
  return "malformed";
}

Napi::Value scan_proxy_header(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* bytes;
  size_t length;
  if (!read_bytes(info[0], &bytes, &length)) {
    throw_type_error(env, "scanProxyHeader: buf must be a Buffer");
    return Napi::Value();
  }
  const ProxyScan scan = sticky::scan_proxy_header(bytes, length);
  const bool found = scan.status == ProxyStatus::Found;
  const auto address = [&](const uint8_t* canonical) {
    return found ? Napi::Value(Napi::Buffer<uint8_t>::Copy(env, canonical, 16)) : env.Null();
  };
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", proxy_status_name(scan.status));
  result.Set("headerLength", Napi::Number::New(env, static_cast<double>(scan.header_length)));
  result.Set("source", address(scan.source));
  result.Set("sourcePort", Napi::Number::New(env, scan.source_port));
  result.Set("destination", address(scan.destination));
  result.Set("destinationPort", Napi::Number::New(env, scan.destination_port));
  result.Set("family", Napi::Number::New(env, scan.family));
  return result;
}

Napi::Value proxy_signature(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* bytes;
  size_t length;
  if (!read_bytes(info[0], &bytes, &length)) {
    throw_type_error(env, "proxySignature: buf must be a Buffer");
    return Napi::Value();
  }
  switch (sticky::proxy_signature(bytes, length)) {
    case ProxySignature::NeedMore: return Napi::String::New(env, "need-more");
    case ProxySignature::None: return Napi::String::New(env, "none");
    case ProxySignature::V1: return Napi::String::New(env, "v1");
    case ProxySignature::V2: return Napi::String::New(env, "v2");
  }
  return Napi::String::New(env, "none");
}

}  // namespace

void export_primitives(Napi::Env env, Napi::Object exports) {
  exports.Set("hash64", Napi::Function::New<hash64>(env, "hash64"));
  exports.Set("parseAddress", Napi::Function::New<parse_address>(env, "parseAddress"));
  exports.Set("scanHead", Napi::Function::New<scan_head>(env, "scanHead"));
  exports.Set("scanProxyHeader", Napi::Function::New<scan_proxy_header>(env, "scanProxyHeader"));
  exports.Set("proxySignature", Napi::Function::New<proxy_signature>(env, "proxySignature"));
  exports.Set("scanSid", Napi::Function::New<scan_sid>(env, "scanSid"));
}

}  // namespace napi
}  // namespace sticky
