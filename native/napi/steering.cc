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

// The user called listen(): an Error like Node's own listen errors ("listen
// EADDRINUSE: address already in use 127.0.0.1:3000"), with code, errno
// (negative, as libuv's), syscall, address and port; a step other than bind or
// listen is named after the address.
void throw_steering_error(Napi::Env env, const SteeringError& error, const std::string& host, int port) {
  const int uv_error = uv_translate_sys_error(error.code);
  const std::string address = host.empty() ? "::" : host;
  std::string message = std::string("listen ") + uv_err_name(uv_error) + ": " + uv_strerror(uv_error) + " " + address +
                        ":" + std::to_string(port);
  if (error.step != "bind" && error.step != "listen") message += " (" + error.step + ")";
  Napi::Error exception = Napi::Error::New(env, message);
  exception.Set("code", uv_err_name(uv_error));
  exception.Set("errno", static_cast<double>(uv_error));
  exception.Set("syscall", "listen");
  exception.Set("address", address);
  exception.Set("port", static_cast<double>(port));
  exception.ThrowAsJavaScriptException();
}

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
      throw_steering_error(env, error, host.empty() ? "::" : host, port);
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
