// The lifecycle the three wrappers around a pollable plain-C++ object share
// (HeadPeeker, Dispatcher, ChannelReceiver): one uv_poll_t on Node's loop
// watching the object's descriptor, an environment cleanup hook so a worker
// thread's or the process's teardown closes it, and an idempotent Shutdown.
#ifndef STICKY_NAPI_POLL_OWNER_H
#define STICKY_NAPI_POLL_OWNER_H

#include <napi.h>
#include <uv.h>

#include <string>

namespace sticky {
namespace napi {

class PollOwner {
 public:
  PollOwner(const PollOwner&) = delete;
  PollOwner& operator=(const PollOwner&) = delete;

 protected:
  PollOwner() = default;
  // A subclass's destructor calls Shutdown(): ClosePolled is its own.
  virtual ~PollOwner() = default;

  // Polls `fd` for `events`, calling OnPollReady on each wake-up, and adds the
  // cleanup hook. The handle is ref'd until KeepAlive(false). False once a JS
  // error naming `owner_name` is thrown.
  bool StartPoll(Napi::Env env, int fd, int events, const std::string& owner_name);
  // Whether the poll keeps the process up, as uv_ref / uv_unref.
  void KeepAlive(bool keep);
  // Idempotent: stops polling, then ClosePolled(), then removes the hook.
  // Safe from within OnPollReady.
  void Shutdown();

  virtual void OnPollReady() = 0;
  // Closes the plain-C++ object, whose descriptor libuv no longer polls by
  // then, and drops the references the wrapper holds while open.
  virtual void ClosePolled() = 0;

 private:
  static void OnReadable(uv_poll_t* poll, int status, int events);
  static void OnEnvTeardown(void* self);

  uv_poll_t* poll_ = nullptr;  // freed by its close callback
  napi_env env_ = nullptr;
  bool cleanup_hook_ = false;
};

}  // namespace napi
}  // namespace sticky

#endif  // STICKY_NAPI_POLL_OWNER_H
