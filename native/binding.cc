// The only N-API file: exposes the plain-C++ primitives with the shape of
// docs/internals.md "Primitives", and the HeadPeeker class where the platform
// has a Peeker (not on Windows: there HeadPeeker is absent and the loader
// reports null, as the fallback does).
#include <napi.h>
#include <uv.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "address.h"
#include "cidr.h"
#include "http_head.h"
#include "peeker.h"
#include "proxy_header.h"
#include "sid.h"
#include "siphash.h"
#include "rendezvous.h"
#include "dispatcher.h"  // native channel: Linux only
#include "channel_receiver.h"
#ifdef __linux__
#include "steering.h"  // kernel steering: Linux only (binding.gyp)
#endif

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

// Appends every entry of `value`, an array of address or CIDR strings, to
// `set`. Throws a TypeError naming `what` and returns false on anything else.
bool read_cidr_list(Napi::Env env, const Napi::Value& value, const std::string& what, sticky::CidrSet* set) {
  if (!value.IsArray()) {
    throw_type_error(env, what + " must be an array of CIDR strings");
    return false;
  }
  const Napi::Array entries = value.As<Napi::Array>();
  for (uint32_t i = 0; i < entries.Length(); ++i) {
    const Napi::Value entry = entries.Get(i);
    const std::string text = entry.IsString() ? entry.As<Napi::String>().Utf8Value() : "";
    if (!entry.IsString() || !sticky::add_cidr(*set, text.data(), text.size())) {
      throw_type_error(env, what + "[" + std::to_string(i) + "] is not an address or CIDR range");
      return false;
    }
  }
  return true;
}

// Reads { format?: 'list' | 'forwarded', pick?: 'leftmost' | 'rightmost-untrusted',
// trusted?: string[] } (undefined: every default) into `rules` and `trusted`.
// Throws a TypeError naming `what` and returns false on anything else.
bool read_head_rules(Napi::Env env, const Napi::Value& value, const char* what,
                     sticky::HeadRules* rules, sticky::CidrSet* trusted) {
  *rules = sticky::HeadRules{};
  if (value.IsUndefined()) return true;
  const std::string prefix = std::string(what) + ": rules.";
  if (!value.IsObject()) {
    throw_type_error(env, std::string(what) + ": rules must be an object");
    return false;
  }
  const Napi::Object object = value.As<Napi::Object>();
  const Napi::Value format = object.Get("format");
  const std::string format_name = format.IsString() ? format.As<Napi::String>().Utf8Value() : "";
  if (format_name == "forwarded") {
    rules->format = sticky::HeaderFormat::Forwarded;
  } else if (!format.IsUndefined() && format_name != "list") {
    throw_type_error(env, prefix + "format must be 'list' or 'forwarded'");
    return false;
  }
  const Napi::Value pick = object.Get("pick");
  const std::string pick_name = pick.IsString() ? pick.As<Napi::String>().Utf8Value() : "";
  if (pick_name == "rightmost-untrusted") {
    rules->pick = sticky::AddressPick::RightmostUntrusted;
  } else if (!pick.IsUndefined() && pick_name != "leftmost") {
    throw_type_error(env, prefix + "pick must be 'leftmost' or 'rightmost-untrusted'");
    return false;
  }
  const Napi::Value list = object.Get("trusted");
  return list.IsUndefined() || read_cidr_list(env, list, prefix + "trusted", trusted);
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
  sticky::HeadRules rules;
  sticky::CidrSet trusted;
  if (!read_head_rules(env, info[3], "scanHead", &rules, &trusted)) return Napi::Value();
  rules.trusted = &trusted;
  const sticky::HeadScan scan =
      sticky::scan_head(head, head_length, header.data(), header.size(), size_limit, rules);
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", status_name(scan.status));
  result.Set("address", scan.status == sticky::HeadStatus::Found
                            ? Napi::Value(Napi::Buffer<uint8_t>::Copy(env, scan.address, 16))
                            : env.Null());
  return result;
}

const char* sid_status_name(sticky::SidStatus status) {
  switch (status) {
    case sticky::SidStatus::NeedMore: return "need-more";
    case sticky::SidStatus::Found: return "found";
    case sticky::SidStatus::None: return "none";
    case sticky::SidStatus::NotHttp: return "not-http";
    case sticky::SidStatus::TooLarge: return "too-large";
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
  const double workers = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : NAN;
  const double limit = info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : NAN;
  if (!read_bytes(info[0], &head, &head_length) || !read_bytes(info[1], &key, &key_length) ||
      key_length != 16 || !(workers >= 0 && workers <= 65536 && workers == std::floor(workers)) ||
      !(limit >= 0 && limit <= 4294967295.0 && limit == std::floor(limit))) {
    throw_type_error(env, "scanSid: (head: Buffer, key: 16-byte Buffer, workers: 0..65536, limit: integer >= 0)");
    return Napi::Value();
  }
  const sticky::SidScan scan = sticky::scan_sid(head, head_length, key, static_cast<size_t>(workers),
                                                static_cast<size_t>(limit));
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", sid_status_name(scan.status));
  result.Set("worker", static_cast<double>(scan.worker));
  return result;
}

const char* proxy_status_name(sticky::ProxyStatus status) {
  switch (status) {
    case sticky::ProxyStatus::NeedMore: return "need-more";
    case sticky::ProxyStatus::Found: return "found";
    case sticky::ProxyStatus::Local: return "local";
    case sticky::ProxyStatus::NotProxy: return "not-proxy";
    case sticky::ProxyStatus::Malformed: return "malformed";
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
  const sticky::ProxyScan scan = sticky::scan_proxy_header(bytes, length);
  const bool found = scan.status == sticky::ProxyStatus::Found;
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

// Polls `fd` for `events` on Node's loop with `owner` as the handle's data.
// Returns the handle, or nullptr once a JS error naming `owner_name` is thrown.
uv_poll_t* start_poll(Napi::Env env, int fd, int events, uv_poll_cb callback, void* owner,
                      const std::string& owner_name) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    Napi::Error::New(env, owner_name + ": no event loop").ThrowAsJavaScriptException();
    return nullptr;
  }
  auto* poll = new uv_poll_t;
  const int poll_error = uv_poll_init(loop, poll, fd);
  if (poll_error != 0) {
    delete poll;  // uv_poll_init registers nothing when it fails
    throw_system_error(env, (owner_name + ": cannot poll its descriptor").c_str(), -poll_error);
    return nullptr;
  }
  poll->data = owner;
  uv_poll_start(poll, events, callback);
  return poll;
}

// Stops polling and frees the handle once libuv is done with it; idempotent.
// Call it before closing the polled descriptor.
void close_poll(uv_poll_t*& poll) {
  if (poll == nullptr) return;
  poll->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(poll),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
  poll = nullptr;
}

// new HeadPeeker(headerLower, limit, onResult, rules?): a sticky::Peeker whose event
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
    sticky::HeadRules rules;
    sticky::CidrSet trusted;
    if (!read_head_rules(env, info[3], "HeadPeeker", &rules, &trusted)) return;
    peeker_.emplace(info[0].As<Napi::String>().Utf8Value(), static_cast<size_t>(limit), rules.format,
                    rules.pick, std::move(trusted));
    if (peeker_->open_error() != 0) {
      throw_system_error(env, "HeadPeeker: cannot create its event queue", peeker_->open_error());
      return;
    }
    poll_ = start_poll(env, peeker_->event_fd(), UV_READABLE, OnReadable, this, "HeadPeeker");
    if (poll_ == nullptr) return;
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
    close_poll(poll_);
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

// ---- Kernel steering (Linux): the `steering` export --------------------------
#ifdef __linux__

// An Error like Node's system errors: code, errno (negative, as libuv's), syscall.
void throw_steering_error(Napi::Env env, const sticky::SteeringError& error, const std::string& host, int port) {
  const int uv_error = uv_translate_sys_error(error.code);
  Napi::Error exception = Napi::Error::New(
      env, "steering.createGroup: " + error.step + " " + host + ":" + std::to_string(port) + ": " + uv_strerror(uv_error));
  exception.Set("code", uv_err_name(uv_error));
  exception.Set("errno", static_cast<double>(uv_error));
  exception.Set("syscall", error.step);
  exception.ThrowAsJavaScriptException();
}

bool read_integer(const Napi::Value& value, double min, double max, int* out) {
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(number >= min && number <= max && number == std::floor(number))) return false;
  *out = static_cast<int>(number);
  return true;
}

Napi::Value steering_available(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), sticky::steering_available());
}

// createGroup(host, port, count, key) -> { fds, port, address, family }
Napi::Value steering_create_group(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    throw_type_error(env, "steering.createGroup: host must be a string (an IP address, 'localhost' or '')");
    return Napi::Value();
  }
  const std::string host = info[0].As<Napi::String>().Utf8Value();
  int port;
  if (!read_integer(info[1], 0, 65535, &port)) {
    throw_type_error(env, "steering.createGroup: port must be an integer from 0 to 65535");
    return Napi::Value();
  }
  int count;
  if (!read_integer(info[2], 1, sticky::kMaxGroupMembers, &count)) {
    throw_type_error(env, "steering.createGroup: count must be an integer from 1 to " +
                              std::to_string(sticky::kMaxGroupMembers));
    return Napi::Value();
  }
  const uint8_t* key;
  size_t key_length;
  if (!read_bytes(info[3], &key, &key_length) || key_length != 16) {
    throw_type_error(env, "steering.createGroup: key must be a Buffer of 16 bytes");
    return Napi::Value();
  }
  sticky::SteeringGroup group;
  sticky::SteeringError error;
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

Napi::Object define_steering(Napi::Env env) {
  Napi::Object steering = Napi::Object::New(env);
  steering.Set("available", Napi::Function::New<steering_available>(env, "available"));
  steering.Set("createGroup", Napi::Function::New<steering_create_group>(env, "createGroup"));
  return steering;
}

#endif  // __linux__
// ---- end of kernel steering ---------------------------------------------------

// ---- Native channel: Dispatcher (primary), ChannelReceiver (worker) -----------

// pickForTest(hash: bigint, live: boolean[], starting: boolean[]) -> index | 'wait'
// Checks sticky::route_worker against test/vectors/pick.json.
// (list: string[], address: Buffer of 16) -> whether a range of `list`
// holds `address`, or null if an entry is not a range: test/vectors/cidr.json.
Napi::Value cidr_contains_for_test(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* address = nullptr;
  size_t address_length = 0;
  if (!info[0].IsArray() || !read_bytes(info[1], &address, &address_length) || address_length != 16) {
    throw_type_error(env, "cidrContainsForTest: (list: string[], address: 16-byte Buffer)");
    return Napi::Value();
  }
  const Napi::Array list = info[0].As<Napi::Array>();
  sticky::CidrSet set;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const Napi::Value entry = list.Get(i);
    if (!entry.IsString()) return env.Null();
    const std::string text = entry.As<Napi::String>().Utf8Value();
    if (!sticky::add_cidr(set, text.data(), text.size())) return env.Null();
  }
  return Napi::Boolean::New(env, sticky::contains(set, address));
}

Napi::Value pick_for_test(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool lossless = false;
  const uint64_t hash = info[0].IsBigInt() ? info[0].As<Napi::BigInt>().Uint64Value(&lossless) : 0;
  if (!lossless || !info[1].IsArray() || !info[2].IsArray()) {
    throw_type_error(env, "pickForTest: (hash: bigint < 2^64, live: boolean[], starting: boolean[])");
    return Napi::Value();
  }
  const Napi::Array live_in = info[1].As<Napi::Array>();
  const Napi::Array starting_in = info[2].As<Napi::Array>();
  const size_t workers = live_in.Length();
  if (workers == 0 || starting_in.Length() != workers) {
    throw_type_error(env, "pickForTest: live and starting must have the same, non-zero length");
    return Napi::Value();
  }
  std::unique_ptr<bool[]> live(new bool[workers]);
  std::unique_ptr<bool[]> starting(new bool[workers]);
  for (uint32_t i = 0; i < workers; ++i) {
    live[i] = live_in.Get(i).ToBoolean();
    starting[i] = starting_in.Get(i).ToBoolean();
  }
  const int index = sticky::route_worker(hash, live.get(), starting.get(), workers);
  if (index == sticky::kWaitForWorker) return Napi::String::New(env, "wait");
  return Napi::Number::New(env, index);
}

#ifdef STICKY_HAVE_CHANNEL

bool read_whole_number(const Napi::Value& value, double min, double max, int* out) {
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(number >= min && number <= max && number == std::floor(number))) return false;
  *out = static_cast<int>(number);
  return true;
}

bool read_option_integer(Napi::Object options, const char* name, double min, double max, double* out) {
  const Napi::Value value = options.Get(name);
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(number >= min && number <= max && number == std::floor(number))) {
    throw_type_error(options.Env(), std::string("Dispatcher: options.") + name + " must be an integer from " +
                                        std::to_string(static_cast<long long>(min)) + " to " +
                                        std::to_string(static_cast<long long>(max)));
    return false;
  }
  *out = number;
  return true;
}

// Routing 'sid': options.sidKey (16 bytes) and options.sidFallback ('ip' or 'least-loaded').
bool read_session_options(Napi::Object options, sticky::DispatcherConfig* config) {
  const uint8_t* key;
  size_t key_length;
  if (!read_bytes(options.Get("sidKey"), &key, &key_length) || key_length != 16) {
    throw_type_error(options.Env(), "Dispatcher: options.sidKey must be a Buffer of 16 bytes");
    return false;
  }
  const Napi::Value fallback = options.Get("sidFallback");
  const std::string fallback_name = fallback.IsString() ? fallback.As<Napi::String>().Utf8Value() : "";
  if (fallback_name != "ip" && fallback_name != "least-loaded") {
    throw_type_error(options.Env(), "Dispatcher: options.sidFallback must be 'ip' or 'least-loaded'");
    return false;
  }
  config->route_by_session_id = true;
  std::memcpy(config->sid_key, key, 16);
  config->sid_least_loaded = fallback_name == "least-loaded";
  return true;
}

// new Dispatcher(options): a sticky::Dispatcher whose epoll set is watched by
// one uv_poll_t. Unref'd until listen() (a dispatcher that never listens must
// not keep the process up), ref'd while listening (it is the primary's
// server), closed by close().
class NativeDispatcher : public Napi::ObjectWrap<NativeDispatcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Dispatcher",
                       {
                           InstanceMethod<&NativeDispatcher::Listen>("listen"),
                           InstanceMethod<&NativeDispatcher::OpenChannel>("openChannel"),
                           InstanceMethod<&NativeDispatcher::SetState>("setState"),
                           InstanceMethod<&NativeDispatcher::SetLoad>("setLoad"),
                           InstanceMethod<&NativeDispatcher::Counters>("counters"),
                           InstanceMethod<&NativeDispatcher::Close>("close"),
                       });
  }

  explicit NativeDispatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeDispatcher>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) {
      throw_type_error(env, "Dispatcher: options must be an object");
      return;
    }
    const Napi::Object options = info[0].As<Napi::Object>();
    sticky::DispatcherConfig config;
    const Napi::Value routing = options.Get("routing");
    const std::string routing_name = routing.IsString() ? routing.As<Napi::String>().Utf8Value() : "";
    if (routing_name != "ip" && routing_name != "header" && routing_name != "sid" &&
        routing_name != "proxy-protocol") {
      throw_type_error(env, "Dispatcher: options.routing must be 'ip', 'header', 'sid' or 'proxy-protocol'");
      return;
    }
    config.route_by_header = routing_name == "header";
    config.route_by_proxy_header = routing_name == "proxy-protocol";
    if (routing_name == "sid" && !read_session_options(options, &config)) return;
    const Napi::Value header_lower = options.Get("headerLower");
    const Napi::Value header = options.Get("header");
    if (!header_lower.IsString() || !header.IsString() ||
        header_lower.As<Napi::String>().Utf8Value().empty()) {
      throw_type_error(env, "Dispatcher: options.header and options.headerLower must be non-empty strings");
      return;
    }
    config.header_lower = header_lower.As<Napi::String>().Utf8Value();
    config.header = header.As<Napi::String>().Utf8Value();
    config.ignore_missing_header = options.Get("ignoreMissingHeader").ToBoolean();
    sticky::HeadRules rules;
    sticky::CidrSet header_trusted;
    if (!read_head_rules(env, options.Get("headRules"), "Dispatcher", &rules, &header_trusted)) return;
    config.header_format = rules.format;
    config.address_pick = rules.pick;
    // One trust set: the forwarded header's, or the peers allowed to send PROXY headers.
    if (config.route_by_proxy_header) {
      if (!read_cidr_list(env, options.Get("trustedProxies"), "Dispatcher: options.trustedProxies",
                          &config.trusted_proxies)) {
        return;
      }
    } else {
      config.trusted_proxies = std::move(header_trusted);
    }
    double head_limit, head_timeout, workers, queue_limit;
    if (!read_option_integer(options, "headLimit", 1, kMaxPeekLimit, &head_limit) ||
        !read_option_integer(options, "headTimeout", 1, 3600000, &head_timeout) ||
        !read_option_integer(options, "workers", 1, 1024, &workers) ||
        !read_option_integer(options, "queueLimit", 1, 1000000, &queue_limit)) {
      return;
    }
    config.head_limit = static_cast<size_t>(head_limit);
    config.head_timeout_ms = static_cast<uint32_t>(head_timeout);
    config.workers = static_cast<size_t>(workers);
    config.queue_limit = static_cast<size_t>(queue_limit);
    const uint8_t* secret;
    size_t secret_length;
    if (!read_bytes(options.Get("secret"), &secret, &secret_length) || secret_length != 16) {
      throw_type_error(env, "Dispatcher: options.secret must be a Buffer of 16 bytes");
      return;
    }
    std::memcpy(config.secret, secret, 16);
    dispatcher_.reset(new sticky::Dispatcher(config));
    if (dispatcher_->open_error() != 0) {
      throw_system_error(env, "Dispatcher: cannot create its event set", dispatcher_->open_error());
      return;
    }
    poll_ = start_poll(env, dispatcher_->event_fd(), UV_READABLE, OnReadable, this, "Dispatcher");
    if (poll_ == nullptr) return;
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    napi_add_env_cleanup_hook(env, OnEnvTeardown, this);
    cleanup_hook_ = true;
  }

  ~NativeDispatcher() override { Shutdown(); }

 private:
  bool Usable(Napi::Env env, const char* method) {
    if (dispatcher_ && !dispatcher_->closed()) return true;
    Napi::Error::New(env, std::string("Dispatcher.") + method + ": the dispatcher is closed")
        .ThrowAsJavaScriptException();
    return false;
  }

  bool ReadIndex(const Napi::CallbackInfo& info, const char* method, size_t* index) {
    int value;
    if (!read_whole_number(info[0], 0, 1023, &value)) {
      throw_type_error(info.Env(), std::string("Dispatcher.") + method + ": index must be a worker index");
      return false;
    }
    *index = static_cast<size_t>(value);
    return true;
  }

  // listen(host: IP literal, port) -> { address, family, port }
  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Usable(env, "listen")) return Napi::Value();
    int port;
    if (!info[0].IsString() || !read_whole_number(info[1], 0, 65535, &port)) {
      throw_type_error(env, "Dispatcher.listen: (host: an IP address, port: 0..65535)");
      return Napi::Value();
    }
    const std::string host = info[0].As<Napi::String>().Utf8Value();
    sticky::BoundAddress bound;
    const int error = dispatcher_->listen(host, port, &bound);
    if (error != 0) {
      // As Node's own listen errors: "listen EADDRINUSE: address already in use 127.0.0.1:80".
      const int uv_error = uv_translate_sys_error(error);
      Napi::Error exception = Napi::Error::New(
          env, std::string("listen ") + uv_err_name(uv_error) + ": " + uv_strerror(uv_error) + " " + host + ":" +
                   std::to_string(port));
      exception.Set("code", uv_err_name(uv_error));
      exception.Set("errno", static_cast<double>(uv_error));
      exception.Set("syscall", "listen");
      exception.Set("address", host);
      exception.Set("port", static_cast<double>(port));
      exception.ThrowAsJavaScriptException();
      return Napi::Value();
    }
    // Listening: like a net.Server, this keeps the process (and itself) up until close().
    uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    self_ = Napi::Persistent(info.This().As<Napi::Object>());
    Napi::Object result = Napi::Object::New(env);
    result.Set("address", bound.address);
    result.Set("family", bound.ipv6 ? "IPv6" : "IPv4");
    result.Set("port", static_cast<double>(bound.port));
    return result;
  }

  Napi::Value OpenChannel(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t index;
    if (!Usable(env, "openChannel") || !ReadIndex(info, "openChannel", &index)) return Napi::Value();
    int worker_end;
    const int error = dispatcher_->open_channel(index, &worker_end);
    if (error != 0) {
      throw_system_error(env, "Dispatcher.openChannel", error);
      return Napi::Value();
    }
    return Napi::Number::New(env, worker_end);
  }

  void SetState(const Napi::CallbackInfo& info) {
    size_t index;
    if (!ReadIndex(info, "setState", &index)) return;
    if (dispatcher_) dispatcher_->set_state(index, info[1].ToBoolean(), info[2].ToBoolean());
  }

  // setLoad(index, load): worker `index` reported its load (sessions or connections).
  void SetLoad(const Napi::CallbackInfo& info) {
    size_t index;
    int load;
    if (!ReadIndex(info, "setLoad", &index)) return;
    if (!read_whole_number(info[1], 0, 2147483647, &load)) {
      throw_type_error(info.Env(), "Dispatcher.setLoad: load must be a whole number");
      return;
    }
    if (dispatcher_) dispatcher_->set_load(index, static_cast<uint64_t>(load));
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object result = Napi::Object::New(env);
    Napi::Array routed = Napi::Array::New(env);
    Napi::Object rejected = Napi::Object::New(env);
    static const char* const kReasons[sticky::kRejectionCount] = {
        "missing-header", "invalid-header", "head-too-large", "head-timeout",
        "closed-early",   "queue-full",     "malformed-proxy", "untrusted-proxy"};
    if (dispatcher_) {
      const std::vector<uint64_t>& counts = dispatcher_->routed();
      for (size_t i = 0; i < counts.size(); ++i) routed.Set(static_cast<uint32_t>(i), static_cast<double>(counts[i]));
    }
    for (size_t i = 0; i < sticky::kRejectionCount; ++i) {
      rejected.Set(kReasons[i], dispatcher_ ? static_cast<double>(dispatcher_->rejected()[i]) : 0.0);
    }
    result.Set("routed", routed);
    result.Set("rejected", rejected);
    result.Set("pending", dispatcher_ ? static_cast<double>(dispatcher_->pending()) : 0.0);
    return result;
  }

  void Close(const Napi::CallbackInfo&) { Shutdown(); }

  // Idempotent. Counters stay readable afterwards.
  void Shutdown() {
    close_poll(poll_);
    // After uv_close: libuv must stop polling a descriptor before it is closed.
    if (dispatcher_) dispatcher_->close();
    if (cleanup_hook_) {
      napi_remove_env_cleanup_hook(Env(), OnEnvTeardown, this);
      cleanup_hook_ = false;
    }
    self_.Reset();
  }

  static void OnEnvTeardown(void* self) {
    auto* dispatcher = static_cast<NativeDispatcher*>(self);
    dispatcher->cleanup_hook_ = false;
    dispatcher->Shutdown();
  }

  // No JavaScript runs here: the whole wake-up is C++.
  static void OnReadable(uv_poll_t* poll, int, int) {
    auto* self = static_cast<NativeDispatcher*>(poll->data);
    if (self != nullptr) self->dispatcher_->on_ready();
  }

  std::unique_ptr<sticky::Dispatcher> dispatcher_;
  uv_poll_t* poll_ = nullptr;  // freed by its close callback
  Napi::ObjectReference self_;  // held while listening
  bool cleanup_hook_ = false;
};

// new ChannelReceiver(fd, onSockets): calls onSockets(fds, peers) once per
// wake-up with every descriptor received and, where a PROXY header named a
// client, `peers[i]` = { address: 16-byte Buffer, port, family: 4 | 6 } (null
// for the others; `peers` itself null when no descriptor has one); closes
// itself when the primary is gone.
// Ref'd, as a listening server is, until then or close().
class NativeChannelReceiver : public Napi::ObjectWrap<NativeChannelReceiver> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ChannelReceiver", {InstanceMethod<&NativeChannelReceiver::Close>("close")});
  }

  explicit NativeChannelReceiver(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<NativeChannelReceiver>(info), async_context_(info.Env(), "sticky:ChannelReceiver") {
    Napi::Env env = info.Env();
    int fd;
    if (!read_whole_number(info[0], 0, std::numeric_limits<int>::max(), &fd) || !info[1].IsFunction()) {
      throw_type_error(env, "ChannelReceiver: (fd: a descriptor, onSockets: function)");
      return;
    }
    receiver_.reset(new sticky::ChannelReceiver(fd));
    if (receiver_->open_error() != 0) {
      throw_system_error(env, "ChannelReceiver: cannot use its descriptor", receiver_->open_error());
      return;
    }
    poll_ = start_poll(env, fd, UV_READABLE | UV_DISCONNECT, OnReadable, this, "ChannelReceiver");
    if (poll_ == nullptr) return;
    on_sockets_ = Napi::Persistent(info[1].As<Napi::Function>());
    // Held while polling, so the receiver lives as long as its channel.
    self_ = Napi::Persistent(info.This().As<Napi::Object>());
    napi_add_env_cleanup_hook(env, OnEnvTeardown, this);
    cleanup_hook_ = true;
  }

  ~NativeChannelReceiver() override { Shutdown(); }

 private:
  // What the primary sent before this worker stopped taking connections is
  // still in the channel: it is delivered now, then the channel closes.
  void Close(const Napi::CallbackInfo& info) {
    std::vector<int> fds;
    std::vector<sticky::ChannelPeerRecord> peers;
    for (int round = 0; round < kCloseRounds && receiver_ && !receiver_->closed(); ++round) {
      const size_t before = fds.size();
      if (!receiver_->receive(&fds, &peers) || fds.size() == before) break;
    }
    if (!fds.empty() && !on_sockets_.IsEmpty()) {
      on_sockets_.Call(Value(), {FdArray(info.Env(), fds), PeerArray(info.Env(), peers)});
    }
    Shutdown();
  }

  static Napi::Array FdArray(Napi::Env env, const std::vector<int>& fds) {
    Napi::Array array = Napi::Array::New(env, fds.size());
    for (size_t i = 0; i < fds.size(); ++i) array.Set(static_cast<uint32_t>(i), fds[i]);
    return array;
  }

  static Napi::Value PeerArray(Napi::Env env, const std::vector<sticky::ChannelPeerRecord>& peers) {
    const bool any = std::any_of(peers.begin(), peers.end(),
                                 [](const sticky::ChannelPeerRecord& peer) { return peer.family != 0; });
    if (!any) return env.Null();
    Napi::Array array = Napi::Array::New(env, peers.size());
    for (size_t i = 0; i < peers.size(); ++i) {
      const sticky::ChannelPeerRecord& peer = peers[i];
      if (peer.family != 4 && peer.family != 6) {
        array.Set(static_cast<uint32_t>(i), env.Null());
        continue;
      }
      Napi::Object client = Napi::Object::New(env);
      client.Set("address", Napi::Buffer<uint8_t>::Copy(env, peer.address, sizeof peer.address));
      client.Set("port", static_cast<double>(peer.port));
      client.Set("family", static_cast<double>(peer.family));
      array.Set(static_cast<uint32_t>(i), client);
    }
    return array;
  }

  static constexpr int kCloseRounds = 64;

  void Shutdown() {
    close_poll(poll_);
    if (receiver_) receiver_->close();
    if (cleanup_hook_) {
      napi_remove_env_cleanup_hook(Env(), OnEnvTeardown, this);
      cleanup_hook_ = false;
    }
    on_sockets_.Reset();
    self_.Reset();
  }

  static void OnEnvTeardown(void* self) {
    auto* receiver = static_cast<NativeChannelReceiver*>(self);
    receiver->cleanup_hook_ = false;
    receiver->Shutdown();
  }

  static void OnReadable(uv_poll_t* poll, int, int) {
    auto* self = static_cast<NativeChannelReceiver*>(poll->data);
    if (self == nullptr) return;
    std::vector<int> fds;
    std::vector<sticky::ChannelPeerRecord> peers;
    const bool open = self->receiver_->receive(&fds, &peers);
    if (!fds.empty()) self->Deliver(fds, peers);
    // Descriptors first: whatever the primary sent before leaving is served.
    if (!open) self->Shutdown();
  }

  void Deliver(const std::vector<int>& fds, const std::vector<sticky::ChannelPeerRecord>& peers) {
    Napi::Env env = Env();
    if (on_sockets_.IsEmpty()) {
      for (int fd : fds) ::close(fd);
      return;
    }
    Napi::HandleScope scope(env);
    const napi_value args[] = {FdArray(env, fds), PeerArray(env, peers)};
    // MakeCallback: ticks and microtasks run after each batch, as after any I/O callback.
    on_sockets_.MakeCallback(Value(), 2, args, async_context_);
    if (env.IsExceptionPending()) napi_fatal_exception(env, env.GetAndClearPendingException().Value());
  }

  std::unique_ptr<sticky::ChannelReceiver> receiver_;
  uv_poll_t* poll_ = nullptr;  // freed by its close callback
  Napi::FunctionReference on_sockets_;
  Napi::ObjectReference self_;
  Napi::AsyncContext async_context_;
  bool cleanup_hook_ = false;
};

#endif  // STICKY_HAVE_CHANNEL
// ---- end of native channel ----------------------------------------------------

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("hash64", Napi::Function::New<hash64>(env, "hash64"));
  exports.Set("parseAddress", Napi::Function::New<parse_address>(env, "parseAddress"));
  exports.Set("scanHead", Napi::Function::New<scan_head>(env, "scanHead"));
  exports.Set("scanProxyHeader", Napi::Function::New<scan_proxy_header>(env, "scanProxyHeader"));
  exports.Set("scanSid", Napi::Function::New<scan_sid>(env, "scanSid"));
#ifdef STICKY_HAVE_PEEKER
  exports.Set("HeadPeeker", HeadPeeker::Define(env));
#endif
#ifdef __linux__
  exports.Set("steering", define_steering(env));
#endif
  exports.Set("pickForTest", Napi::Function::New<pick_for_test>(env, "pickForTest"));
  exports.Set("cidrContainsForTest", Napi::Function::New<cidr_contains_for_test>(env, "cidrContainsForTest"));
#ifdef STICKY_HAVE_CHANNEL
  exports.Set("Dispatcher", NativeDispatcher::Define(env));
  exports.Set("ChannelReceiver", NativeChannelReceiver::Define(env));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(sticky_native, init)
