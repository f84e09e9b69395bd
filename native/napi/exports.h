// What each wrapper file adds to the addon's exports; binding.cc registers
// them where the platform has them (the macros come from the plain-C++ headers).
#ifndef STICKY_NAPI_EXPORTS_H
#define STICKY_NAPI_EXPORTS_H

#include <napi.h>

#include "../channel_format.h"  // STICKY_HAVE_CHANNEL
#include "../peeker.h"          // STICKY_HAVE_PEEKER

namespace sticky {
namespace napi {

// primitives.cc: hash64, parseAddress, scanHead, scanProxyHeader, proxySignature, scanSid.
void export_primitives(Napi::Env env, Napi::Object exports);
// rejections.cc: the `rejectReasons` list.
Napi::Array define_reject_reasons(Napi::Env env);
// test_hooks.cc: pickForTest, cidrContainsForTest.
void export_test_hooks(Napi::Env env, Napi::Object exports);

#ifdef STICKY_HAVE_PEEKER
// head_peeker.cc: the HeadPeeker class.
Napi::Function define_head_peeker(Napi::Env env);
#endif

#ifdef __linux__
// steering.cc: the `steering` object, { available, createGroup }.
Napi::Object define_steering(Napi::Env env);
#endif

#ifdef STICKY_HAVE_CHANNEL
// dispatcher.cc and channel_receiver.cc: the native channel's two ends.
Napi::Function define_dispatcher(Napi::Env env);
Napi::Function define_channel_receiver(Napi::Env env);
#endif

}  // namespace napi
}  // namespace sticky

#endif  // STICKY_NAPI_EXPORTS_H
