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

}  // namespace napi
}  // namespace sticky

#endif  // STICKY_NAPI_ERRORS_H
