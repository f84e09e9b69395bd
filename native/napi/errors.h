// The errors the wrappers throw into JavaScript.
#ifndef STICKY_NAPI_ERRORS_H
#define STICKY_NAPI_ERRORS_H

#include <napi.h>
#include <uv.h>

#include <string>

namespace sticky {
namespace napi {

// A caller's mistake: a wrong argument or option.
inline void throw_type_error(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

// A failed system call, as Node's system errors: "what: message", code, errno
// (libuv's negative number). `error` is a positive errno.
inline void throw_system_error(Napi::Env env, const std::string& what, int error) {
  const int uv_error = uv_translate_sys_error(error);
  Napi::Error exception = Napi::Error::New(env, what + ": " + uv_strerror(uv_error));
  exception.Set("code", uv_err_name(uv_error));
  exception.Set("errno", static_cast<double>(uv_error));
  exception.ThrowAsJavaScriptException();
}

// A failed listen(), as Node's own listen errors: "listen EADDRINUSE: address
// already in use 127.0.0.1:3000", with code, errno (negative, as libuv's),
// syscall, address and port. `step`, when not empty, is named after the
// address (the setup call that failed, when it was neither bind nor listen).
inline void throw_listen_error(Napi::Env env, int error, const std::string& address, int port,
                               const std::string& step = "") {
  const int uv_error = uv_translate_sys_error(error);
  std::string message = std::string("listen ") + uv_err_name(uv_error) + ": " + uv_strerror(uv_error) + " " + address +
                        ":" + std::to_string(port);
  if (!step.empty()) message += " (" + step + ")";
  Napi::Error exception = Napi::Error::New(env, message);
  exception.Set("code", uv_err_name(uv_error));
  exception.Set("errno", static_cast<double>(uv_error));
  exception.Set("syscall", "listen");
  exception.Set("address", address);
  exception.Set("port", static_cast<double>(port));
  exception.ThrowAsJavaScriptException();
}

}  // namespace napi
}  // namespace sticky

#endif  // STICKY_NAPI_ERRORS_H
