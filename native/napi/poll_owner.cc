#include "poll_owner.h"

#include "errors.h"

namespace sticky {
namespace napi {

bool PollOwner::StartPoll(Napi::Env env, int fd, int events, const std::string& owner_name) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    Napi::Error::New(env, owner_name + ": no event loop").ThrowAsJavaScriptException();
    return false;
  }
  auto* poll = new uv_poll_t;
  const int poll_error = uv_poll_init(loop, poll, fd);
  if (poll_error != 0) {
    delete poll;  // uv_poll_init registers nothing when it fails
    throw_system_error(env, owner_name + ": cannot poll its descriptor", -poll_error);
    return false;
  }
  poll->data = this;
  uv_poll_start(poll, events, OnReadable);
  poll_ = poll;
  env_ = env;
  napi_add_env_cleanup_hook(env, OnEnvTeardown, this);
  cleanup_hook_ = true;
  return true;
}

void PollOwner::KeepAlive(bool keep) {
  if (poll_ == nullptr) return;
  if (keep) {
    uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
}

void PollOwner::Shutdown() {
  if (poll_ != nullptr) {
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    poll_ = nullptr;
  }
  // After uv_close: libuv must stop polling a descriptor before it is closed.
  ClosePolled();
  if (cleanup_hook_) {
    napi_remove_env_cleanup_hook(env_, OnEnvTeardown, this);
    cleanup_hook_ = false;
  }
}

// Whatever the status, the owner's wake-up is right: on an error libuv has
// already stopped the handle, and the object then finds nothing or a closed
// descriptor.
void PollOwner::OnReadable(uv_poll_t* poll, int, int) {
  auto* self = static_cast<PollOwner*>(poll->data);
  if (self != nullptr) self->OnPollReady();
}

void PollOwner::OnEnvTeardown(void* self) {
  auto* owner = static_cast<PollOwner*>(self);
  owner->cleanup_hook_ = false;  // it has run; there is nothing to remove
  owner->Shutdown();
}

}  // namespace napi
}  // namespace sticky
