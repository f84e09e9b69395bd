// new HeadPeeker(headerLower, limit, onResult, rules?, peek?): a sticky::Peeker
// (peeker.h) whose event queue is watched by one unref'd uv_poll_t, so it
// never keeps the process up. Where the platform has no Peeker (Windows) the
// class is absent and the loader reports null, as the fallback does.
#include "exports.h"

#ifdef STICKY_HAVE_PEEKER

#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "arguments.h"
#include "errors.h"
#include "poll_owner.h"

namespace sticky {
namespace napi {

namespace {

const char* outcome_name(PeekOutcome outcome) {
  switch (outcome) {
    case PeekOutcome::Found: return "found";
    case PeekOutcome::Missing: return "missing";
    case PeekOutcome::Invalid: return "invalid";
    case PeekOutcome::NotHttp: return "not-http";
    case PeekOutcome::TooLarge: return "too-large";
    case PeekOutcome::Closed: return "closed";
    case PeekOutcome::Error: return "error";
  }
  return "error";
}

class HeadPeeker : public Napi::ObjectWrap<HeadPeeker>, public PollOwner {
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
    double limit;
    if (!read_whole_number(info[1], 1.0, kMaxPeekLimit, &limit)) {
      throw_type_error(env, "HeadPeeker: limit must be an integer from 1 to 16777216");
      return;
    }
    if (!info[2].IsFunction()) {
      throw_type_error(env, "HeadPeeker: onResult must be a function");
      return;
    }
    HeadRules rules;
    CidrSet trusted;
    if (!read_head_rules(env, info[3], "HeadPeeker", &rules, &trusted)) return;
    PeekMode mode;
    if (!read_peek_mode(env, info[4], "HeadPeeker: peek", &mode)) return;
    peeker_.emplace(info[0].As<Napi::String>().Utf8Value(), static_cast<size_t>(limit), rules.format,
                    rules.pick, std::move(trusted), mode);
    if (peeker_->open_error() != 0) {
      throw_system_error(env, "HeadPeeker: cannot create its event queue", peeker_->open_error());
      return;
    }
    if (!StartPoll(env, peeker_->event_fd(), UV_READABLE, "HeadPeeker")) return;
    KeepAlive(false);
    on_result_ = Napi::Persistent(info[2].As<Napi::Function>());
  }

  ~HeadPeeker() override { Shutdown(); }

 private:
  bool ReadFd(const Napi::CallbackInfo& info, const char* method, int* fd) {
    if (read_whole_number(info[0], 0, std::numeric_limits<int>::max(), fd)) return true;
    throw_type_error(info.Env(), std::string("HeadPeeker.") + method + ": fd must be a non-negative integer");
    return false;
  }

  void Watch(const Napi::CallbackInfo& info) {
    int fd;
    if (!ReadFd(info, "watch", &fd)) return;
    if (!peeker_ || peeker_->closed()) {
      Napi::Error::New(info.Env(), "HeadPeeker.watch: the peeker is closed").ThrowAsJavaScriptException();
      return;
    }
    const int error = peeker_->watch(fd);
    if (error != 0) throw_system_error(info.Env(), "HeadPeeker.watch", error);
  }

  void Unwatch(const Napi::CallbackInfo& info) {
    int fd;
    if (!ReadFd(info, "unwatch", &fd)) return;
    if (peeker_) peeker_->unwatch(fd);
  }

  void Close(const Napi::CallbackInfo&) {
    Shutdown();
    // Lets the callback, and whatever it holds (often this object), be collected.
    on_result_.Reset();
  }

  // Safe from a result callback: the drain in progress stops.
  void ClosePolled() override {
    if (peeker_) peeker_->close();
  }

  void OnPollReady() override { peeker_->drain(&HeadPeeker::Report, this); }

  static void Report(void* context, int fd, PeekOutcome outcome, const uint8_t* address) {
    auto* self = static_cast<HeadPeeker*>(context);
    if (self->on_result_.IsEmpty()) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    const napi_value args[] = {
        Napi::Number::New(env, fd),
        Napi::String::New(env, outcome_name(outcome)),
        outcome == PeekOutcome::Found ? Napi::Buffer<uint8_t>::Copy(env, address, 16) : env.Null(),
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
    if (env.IsExceptionPending()) napi_fatal_exception(env, env.GetAndClearPendingException().Value());
  }

  std::optional<Peeker> peeker_;
  Napi::FunctionReference on_result_;
  Napi::AsyncContext async_context_;
};

}  // namespace

Napi::Function define_head_peeker(Napi::Env env) { return HeadPeeker::Define(env); }

}  // namespace napi
}  // namespace sticky

#endif  // STICKY_HAVE_PEEKER
