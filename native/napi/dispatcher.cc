// new Dispatcher(options): a sticky::Dispatcher (../dispatcher.h) whose epoll
// set is watched by one uv_poll_t. Unref'd until listen() (a dispatcher that
// never listens must not keep the process up), ref'd while listening (it is
// the primary's server), closed by close().
#include "exports.h"

#ifdef STICKY_HAVE_CHANNEL

#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../dispatcher.h"
#include "arguments.h"
#include "errors.h"
#include "poll_owner.h"

namespace sticky {
namespace napi {

namespace {

bool read_option_integer(Napi::Object options, const char* name, double min, double max, double* out) {
  if (read_whole_number(options.Get(name), min, max, out)) return true;
  throw_type_error(options.Env(), std::string("Dispatcher: options.") + name + " must be an integer from " +
                                      std::to_string(static_cast<long long>(min)) + " to " +
                                      std::to_string(static_cast<long long>(max)));
  return false;
}

// Routing 'sid': options.sidKey (16 bytes) and options.sidFallback ('ip' or 'least-loaded').
bool read_session_options(Napi::Object options, DispatcherConfig* config) {
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

// Everything the constructor takes: `options` as src/transport/channel.ts passes it.
bool read_config(Napi::Env env, const Napi::Value& value, DispatcherConfig* config) {
  if (!value.IsObject()) {
    throw_type_error(env, "Dispatcher: options must be an object");
    return false;
  }
  const Napi::Object options = value.As<Napi::Object>();
  const Napi::Value routing = options.Get("routing");
  const std::string routing_name = routing.IsString() ? routing.As<Napi::String>().Utf8Value() : "";
  if (routing_name != "ip" && routing_name != "header" && routing_name != "sid" &&
      routing_name != "proxy-protocol") {
    throw_type_error(env, "Dispatcher: options.routing must be 'ip', 'header', 'sid' or 'proxy-protocol'");
    return false;
  }
  config->route_by_header = routing_name == "header";
  config->route_by_proxy_header = routing_name == "proxy-protocol";
  if (routing_name == "sid" && !read_session_options(options, config)) return false;
  const Napi::Value header_lower = options.Get("headerLower");
  const Napi::Value header = options.Get("header");
  if (!header_lower.IsString() || !header.IsString() || header_lower.As<Napi::String>().Utf8Value().empty()) {
    throw_type_error(env, "Dispatcher: options.header and options.headerLower must be non-empty strings");
    return false;
  }
  config->header_lower = header_lower.As<Napi::String>().Utf8Value();
  config->header = header.As<Napi::String>().Utf8Value();
  config->ignore_missing_header = options.Get("ignoreMissingHeader").ToBoolean();
  HeadRules rules;
  CidrSet header_trusted;
  if (!read_head_rules(env, options.Get("headRules"), "Dispatcher", &rules, &header_trusted)) return false;
  config->header_format = rules.format;
  config->address_pick = rules.pick;
  // One trust set: the forwarded header's, or the peers allowed to send PROXY headers.
  if (config->route_by_proxy_header) {
    if (!read_cidr_list(env, options.Get("trustedProxies"), "Dispatcher: options.trustedProxies",
                        &config->trusted_proxies)) {
      return false;
    }
  } else {
    config->trusted_proxies = std::move(header_trusted);
  }
  double head_limit, head_timeout, workers, queue_limit;
  if (!read_option_integer(options, "headLimit", 1, kMaxPeekLimit, &head_limit) ||
      !read_option_integer(options, "headTimeout", 1, 3600000, &head_timeout) ||
      !read_option_integer(options, "workers", 1, 1024, &workers) ||
      !read_option_integer(options, "queueLimit", 1, 1000000, &queue_limit)) {
    return false;
  }
  config->head_limit = static_cast<size_t>(head_limit);
  config->head_timeout_ms = static_cast<uint32_t>(head_timeout);
  config->workers = static_cast<size_t>(workers);
  config->queue_limit = static_cast<size_t>(queue_limit);
  const uint8_t* secret;
  size_t secret_length;
  if (!read_bytes(options.Get("secret"), &secret, &secret_length) || secret_length != 16) {
    throw_type_error(env, "Dispatcher: options.secret must be a Buffer of 16 bytes");
    return false;
  }
  std::memcpy(config->secret, secret, 16);
  return read_peek_mode(env, options.Get("peek"), "Dispatcher: options.peek", &config->peek_mode);
}

class NativeDispatcher : public Napi::ObjectWrap<NativeDispatcher>, public PollOwner {
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
    DispatcherConfig config;
    if (!read_config(env, info[0], &config)) return;
    dispatcher_.reset(new Dispatcher(config));
    if (dispatcher_->open_error() != 0) {
      throw_system_error(env, "Dispatcher: cannot create its event set", dispatcher_->open_error());
      return;
    }
    if (!StartPoll(env, dispatcher_->event_fd(), UV_READABLE, "Dispatcher")) return;
    KeepAlive(false);
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
    BoundAddress bound;
    const int error = dispatcher_->listen(host, port, &bound);
    if (error != 0) {
      throw_listen_error(env, error, host, port);
      return Napi::Value();
    }
    // Listening: like a net.Server, this keeps the process (and itself) up until close().
    KeepAlive(true);
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
    if (dispatcher_) {
      const std::vector<uint64_t>& counts = dispatcher_->routed();
      for (size_t i = 0; i < counts.size(); ++i) routed.Set(static_cast<uint32_t>(i), static_cast<double>(counts[i]));
    }
    for (size_t i = 0; i < kRejectionCount; ++i) {
      rejected.Set(kRejections[i].reason, dispatcher_ ? static_cast<double>(dispatcher_->rejected()[i]) : 0.0);
    }
    result.Set("routed", routed);
    result.Set("rejected", rejected);
    result.Set("pending", dispatcher_ ? static_cast<double>(dispatcher_->pending()) : 0.0);
    return result;
  }

  void Close(const Napi::CallbackInfo&) { Shutdown(); }

  // Counters stay readable afterwards.
  void ClosePolled() override {
    if (dispatcher_) dispatcher_->close();
    self_.Reset();
  }

  // No JavaScript runs here: the whole wake-up is C++.
  void OnPollReady() override { dispatcher_->on_ready(); }

  std::unique_ptr<Dispatcher> dispatcher_;
  Napi::ObjectReference self_;  // held while listening
};

}  // namespace

Napi::Function define_dispatcher(Napi::Env env) { return NativeDispatcher::Define(env); }

}  // namespace napi
}  // namespace sticky

#endif  // STICKY_HAVE_CHANNEL
