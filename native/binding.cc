// The only N-API file: exposes the plain-C++ primitives with the shape of
// docs/internals.md "Primitives", and the HeadPeeker class where the platform
// has a Peeker (not on Windows: there HeadPeeker is absent and the loader
// reports null, as the fallback does).
#include <napi.h>
#include <uv.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "address.h"
#include "http_head.h"
#include "peeker.h"
#include "siphash.h"

namespace {

void throw_type_error(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

// A Buffer or any other Uint8Array: its bytes as seen through the view.
bool read_bytes(const Napi::Value& value, const uint8_t** data, size_t* length) {
  if (!value.IsTypedArray()) return false;
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array bytes = value.As<Napi::Uint8Array>();
  *data = bytes.Data();
  *length = bytes.ByteLength();
  return true;
}

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
  return Napi::BigInt::New(env, sticky::siphash24(key, address, address_length));
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

const char* status_name(sticky::HeadStatus status) {
  switch (status) {
    case sticky::HeadStatus::NeedMore: return "need-more";
    case sticky::HeadStatus::Found: return "found";
    case sticky::HeadStatus::Missing: return "missing";
    case sticky::HeadStatus::Invalid: return "invalid";
    case sticky::HeadStatus::NotHttp: return "not-http";
    case sticky::HeadStatus::TooLarge: return "too-large";
  }
  return "invalid";
}

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
  const sticky::HeadScan scan =
      sticky::scan_head(head, head_length, header.data(), header.size(), size_limit);
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", status_name(scan.status));
  result.Set("address", scan.status == sticky::HeadStatus::Found
                            ? Napi::Value(Napi::Buffer<uint8_t>::Copy(env, scan.address, 16))
                            : env.Null());
  return result;
}

#ifdef STICKY_HAVE_PEEKER

// The peek buffer is allocated once per HeadPeeker with this many bytes at most.
constexpr double kMaxPeekLimit = 16 * 1024 * 1024;

const char* outcome_name(sticky::PeekOutcome outcome) {
  switch (outcome) {
    case sticky::PeekOutcome::Found: return "found";
    case sticky::PeekOutcome::Missing: return "missing";
    case sticky::PeekOutcome::Invalid: return "invalid";
    case sticky::PeekOutcome::NotHttp: return "not-http";
    case sticky::PeekOutcome::TooLarge: return "too-large";
    case sticky::PeekOutcome::Closed: return "closed";
    case sticky::PeekOutcome::Error: return "error";
  }
  return "error";
}

void throw_system_error(Napi::Env env, const char* what, int error) {
  const int uv_error = uv_translate_sys_error(error);
  Napi::Error exception =
      Napi::Error::New(env, std::string(what) + ": " + uv_strerror(uv_error));
  exception.Set("code", uv_err_name(uv_error));
  exception.Set("errno", static_cast<double>(uv_error));
  exception.ThrowAsJavaScriptException();
}

bool read_fd(const Napi::CallbackInfo& info, const char* method, int* fd) {
  const double value = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(value >= 0 && value <= std::numeric_limits<int>::max() && value == std::floor(value))) {
    throw_type_error(info.Env(), std::string("HeadPeeker.") + method +
                                     ": fd must be a non-negative integer");
    return false;
  }
  *fd = static_cast<int>(value);
  return true;
}

// new HeadPeeker(headerLower, limit, onResult): a sticky::Peeker whose event
// queue is watched by one unref'd uv_poll_t, so it never keeps the process up.
class HeadPeeker : public Napi::ObjectWrap<HeadPeeker> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "HeadPeeker",
                       {
                           InstanceMethod<&HeadPeeker::Watch>("watch"),
                           InstanceMethod<&HeadPeeker::Unwatch>("unwatch"),
                           InstanceMethod<&HeadPeeker::Close>("close"),
                       });
  }

  explicit HeadPeeker(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<HeadPeeker>(info), async_context_(info.Env(), "sticky:HeadPeeker") {
    Napi::Env env = info.Env();
    if (!info[0].IsString() || info[0].As<Napi::String>().Utf8Value().empty()) {
      throw_type_error(env, "HeadPeeker: headerLower must be a non-empty string");
      return;
    }
    const double limit = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
    if (!(limit >= 1 && limit <= kMaxPeekLimit && limit == std::floor(limit))) {
      throw_type_error(env, "HeadPeeker: limit must be an integer from 1 to 16777216");
      return;
    }
    if (!info[2].IsFunction()) {
      throw_type_error(env, "HeadPeeker: onResult must be a function");
      return;
    }
    peeker_.emplace(info[0].As<Napi::String>().Utf8Value(), static_cast<size_t>(limit));
    if (peeker_->open_error() != 0) {
      throw_system_error(env, "HeadPeeker: cannot create its event queue", peeker_->open_error());
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "HeadPeeker: no event loop").ThrowAsJavaScriptException();
      return;
    }
    auto* poll = new uv_poll_t;
    const int poll_error = uv_poll_init(loop, poll, peeker_->event_fd());
    if (poll_error != 0) {
      delete poll;  // uv_poll_init registers nothing when it fails
      throw_system_error(env, "HeadPeeker: cannot poll its event queue", -poll_error);
      return;
    }
    poll->data = this;
    poll_ = poll;
    uv_poll_start(poll_, UV_READABLE, OnReadable);
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    on_result_ = Napi::Persistent(info[2].As<Napi::Function>());
    napi_add_env_cleanup_hook(env, OnEnvTeardown, this);
    cleanup_hook_ = true;
  }

  ~HeadPeeker() override { Shutdown(); }

 private:
  void Watch(const Napi::CallbackInfo& info) {
    int fd;
    if (!read_fd(info, "watch", &fd)) return;
    if (!peeker_ || peeker_->closed()) {
      Napi::Error::New(info.Env(), "HeadPeeker.watch: the peeker is closed")
          .ThrowAsJavaScriptException();
      return;
    }
    const int error = peeker_->watch(fd);
    if (error != 0) throw_system_error(info.Env(), "HeadPeeker.watch", error);
  }

  void Unwatch(const Napi::CallbackInfo& info) {
    int fd;
    if (!read_fd(info, "unwatch", &fd)) return;
    if (peeker_) peeker_->unwatch(fd);
  }

  void Close(const Napi::CallbackInfo&) {
    Shutdown();
    // Lets the callback, and whatever it holds (often this object), be collected.
    on_result_.Reset();
  }

  // Idempotent. Safe from a result callback: the drain in progress stops.
  void Shutdown() {
    if (poll_ != nullptr) {
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_),
               [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
      poll_ = nullptr;
    }
    // After uv_close: libuv must stop polling a descriptor before it is closed.
    if (peeker_) peeker_->close();
    if (cleanup_hook_) {
      napi_remove_env_cleanup_hook(Env(), OnEnvTeardown, this);
      cleanup_hook_ = false;
    }
  }

  static void OnEnvTeardown(void* self) {
    auto* peeker = static_cast<HeadPeeker*>(self);
    peeker->cleanup_hook_ = false;  // it has run; there is nothing to remove
    peeker->Shutdown();
  }

  // Whatever the status, draining is right: on an error libuv has already
  // stopped the handle, and the drain then finds nothing or a closed queue.
  static void OnReadable(uv_poll_t* poll, int, int) {
    auto* self = static_cast<HeadPeeker*>(poll->data);
    if (self != nullptr) self->peeker_->drain(&HeadPeeker::Report, self);
  }

  static void Report(void* context, int fd, sticky::PeekOutcome outcome, const uint8_t* address) {
    auto* self = static_cast<HeadPeeker*>(context);
    if (self->on_result_.IsEmpty()) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    const napi_value args[] = {
        Napi::Number::New(env, fd),
        Napi::String::New(env, outcome_name(outcome)),
        outcome == sticky::PeekOutcome::Found ? Napi::Buffer<uint8_t>::Copy(env, address, 16)
                                              : env.Null(),
    };
    // `this` is the HeadPeeker, as for an emitter's listener; N-API needs an
    // object there, so the global stands in between its collection and its
    // finalizer.
    const Napi::Object peeker = self->Value();
    const napi_value receiver = peeker.IsEmpty() ? env.Global() : peeker;
    // MakeCallback, not Call: ticks and microtasks run after each result, as
    // after any other I/O callback.
    self->on_result_.MakeCallback(receiver, 3, args, self->async_context_);
    // No JavaScript frame below us can catch it: treat it as uncaught.
    if (env.IsExceptionPending()) {
      napi_fatal_exception(env, env.GetAndClearPendingException().Value());
    }
  }

  std::optional<sticky::Peeker> peeker_;
  uv_poll_t* poll_ = nullptr;  // freed by its close callback
  Napi::FunctionReference on_result_;
  Napi::AsyncContext async_context_;
  bool cleanup_hook_ = false;
};

#endif  // STICKY_HAVE_PEEKER

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("hash64", Napi::Function::New<hash64>(env, "hash64"));
  exports.Set("parseAddress", Napi::Function::New<parse_address>(env, "parseAddress"));
  exports.Set("scanHead", Napi::Function::New<scan_head>(env, "scanHead"));
#ifdef STICKY_HAVE_PEEKER
  exports.Set("HeadPeeker", HeadPeeker::Define(env));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(sticky_native, init)
