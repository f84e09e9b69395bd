// The addon's registration: the exports with the shape of src/primitives.ts,
// each where the platform has it. The wrappers live in napi/, one file per JS
// class or group; everything outside napi/ is plain C++ with no N-API types.
#include <napi.h>

#include "napi/exports.h"

namespace {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  sticky::napi::export_primitives(env, exports);
  exports.Set("rejectReasons", sticky::napi::define_reject_reasons(env));
#ifdef STICKY_HAVE_PEEKER
  exports.Set("HeadPeeker", sticky::napi::define_head_peeker(env));
#endif
#ifdef __linux__
  exports.Set("steering", sticky::napi::define_steering(env));
#endif
  sticky::napi::export_test_hooks(env, exports);
#ifdef STICKY_HAVE_CHANNEL
  exports.Set("Dispatcher", sticky::napi::define_dispatcher(env));
  exports.Set("ChannelReceiver", sticky::napi::define_channel_receiver(env));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(sticky_native, init)
