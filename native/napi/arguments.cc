#include "arguments.h"

#include <cmath>

#include "errors.h"

namespace sticky {
namespace napi {

bool read_bytes(const Napi::Value& value, const uint8_t** data, size_t* length) {
  if (!value.IsTypedArray()) return false;
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array bytes = value.As<Napi::Uint8Array>();
  *data = bytes.Data();
  *length = bytes.ByteLength();
  return true;
}

bool read_whole_number(const Napi::Value& value, double min, double max, double* out) {
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(number >= min && number <= max && number == std::floor(number))) return false;
  *out = number;
  return true;
}

bool read_whole_number(const Napi::Value& value, int min, int max, int* out) {
  double number;
  if (!read_whole_number(value, static_cast<double>(min), static_cast<double>(max), &number)) return false;
  *out = static_cast<int>(number);
  return true;
}

bool read_choice(Napi::Env env, const Napi::Value& value, const std::string& what, const char* first,
                 const char* second, bool* is_second) {
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  *is_second = name == second;
  if (*is_second || value.IsUndefined() || name == first) return true;
  throw_type_error(env, what + " must be '" + first + "' or '" + second + "'");
  return false;
}

bool read_cidr_list(Napi::Env env, const Napi::Value& value, const std::string& what, CidrSet* set) {
  if (!value.IsArray()) {
    throw_type_error(env, what + " must be an array of CIDR strings");
    return false;
  }
  const Napi::Array entries = value.As<Napi::Array>();
  for (uint32_t i = 0; i < entries.Length(); ++i) {
    const Napi::Value entry = entries.Get(i);
    const std::string text = entry.IsString() ? entry.As<Napi::String>().Utf8Value() : "";
    if (!entry.IsString() || !add_cidr(*set, text.data(), text.size())) {
      throw_type_error(env, what + "[" + std::to_string(i) + "] is not an address or CIDR range");
      return false;
    }
  }
  return true;
}

bool read_head_rules(Napi::Env env, const Napi::Value& value, const char* what, HeadRules* rules,
                     CidrSet* trusted) {
  *rules = HeadRules{};
  if (value.IsUndefined()) return true;
  const std::string prefix = std::string(what) + ": rules.";
  if (!value.IsObject()) {
    throw_type_error(env, std::string(what) + ": rules must be an object");
    return false;
  }
  const Napi::Object object = value.As<Napi::Object>();
  bool forwarded, rightmost_untrusted;
  if (!read_choice(env, object.Get("format"), prefix + "format", "list", "forwarded", &forwarded) ||
      !read_choice(env, object.Get("pick"), prefix + "pick", "leftmost", "rightmost-untrusted",
                   &rightmost_untrusted)) {
    return false;
  }
  if (forwarded) rules->format = HeaderFormat::Forwarded;
  if (rightmost_untrusted) rules->pick = AddressPick::RightmostUntrusted;
  const Napi::Value list = object.Get("trusted");
  return list.IsUndefined() || read_cidr_list(env, list, prefix + "trusted", trusted);
}

#ifdef STICKY_HAVE_PEEKER
bool read_peek_mode(Napi::Env env, const Napi::Value& value, const std::string& what, PeekMode* mode) {
  const std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (value.IsUndefined() || name == "offset") {
    *mode = PeekMode::Offset;
  } else if (name == "no-offset") {
    *mode = PeekMode::NoOffset;
  } else if (name == "whole") {
    *mode = PeekMode::Whole;
  } else {
    throw_type_error(env, what + " must be 'offset', 'no-offset' or 'whole'");
    return false;
  }
  return true;
}
#endif

}  // namespace napi
}  // namespace sticky
