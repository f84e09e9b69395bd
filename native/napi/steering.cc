// The `steering` export (Linux): { available(), createGroup(host, port, count, key) }
// over the plain-C++ kernel steering of ../steering.h.
#include "exports.h"

#ifdef __linux__

#include <string>

#include "../steering.h"
#include "arguments.h"
#include "errors.h"

namespace sticky {
namespace napi {

namespace {

Napi::Value available(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), steering_available());
}

// createGroup(host, port, count, key) -> { fds, port, address, family }
Napi::Value create_group(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    throw_type_error(env, "steering.createGroup: host must be a string (an IP address, 'localhost' or '')");
    return Napi::Value();
  }
  const std::string host = info[0].As<Napi::String>().Utf8Value();
  int port;
  if (!read_whole_number(info[1], 0, 65535, &port)) {
    throw_type_error(env, "steering.createGroup: port must be an integer from 0 to 65535");
    return Napi::Value();
  }
  int count;
  if (!read_whole_number(info[2], 1, kMaxGroupMembers, &count)) {
    throw_type_error(env, "steering.createGroup: count must be an integer from 1 to " +
                              std::to_string(kMaxGroupMembers));
    return Napi::Value();
  }
  const uint8_t* key;
  size_t key_length;
  if (!read_bytes(info[3], &key, &key_length) || key_length != 16) {
    throw_type_error(env, "steering.createGroup: key must be a Buffer of 16 bytes");
    return Napi::Value();
  }
  SteeringGroup group;
  SteeringError error;
  if (!sticky::create_group(host, port, count, key, &group, &error)) {
    if (error.bad_host) {
      throw_type_error(env, "steering.createGroup: host must be an IP address, 'localhost' or '', not \"" + host + "\"");
    } else {
      // A setup step other than bind or listen is named in the message.
      const bool named = error.step != "bind" && error.step != "listen";
      throw_listen_error(env, error.code, host.empty() ? "::" : host, port, named ? error.step : "");
    }
    return Napi::Value();
  }
  Napi::Array fds = Napi::Array::New(env, group.fds.size());
  for (size_t i = 0; i < group.fds.size(); i++) fds.Set(static_cast<uint32_t>(i), group.fds[i]);
  Napi::Object result = Napi::Object::New(env);
  result.Set("fds", fds);
  result.Set("port", static_cast<double>(group.port));
  result.Set("address", group.address);
  result.Set("family", group.ipv6 ? "IPv6" : "IPv4");
  return result;
}

}  // namespace

Napi::Object define_steering(Napi::Env env) {
  Napi::Object steering = Napi::Object::New(env);
  steering.Set("available", Napi::Function::New<available>(env, "available"));
  steering.Set("createGroup", Napi::Function::New<create_group>(env, "createGroup"));
  return steering;
}

}  // namespace napi
}  // namespace sticky

#endif  // __linux__
