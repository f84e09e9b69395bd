// new ChannelReceiver(fd, onSockets): the worker's end of a native channel
// (../channel_receiver.h). Calls onSockets(fds, peers) once per wake-up with
// every descriptor received and, where a PROXY header named a client,
// `peers[i]` = { address: 16-byte Buffer, port, family: 4 | 6 } (null for the
// others; `peers` itself null when no descriptor has one); closes itself when
// the primary is gone. Ref'd, as a listening server is, until then or close().
#include "exports.h"

#ifdef STICKY_HAVE_CHANNEL

#include <unistd.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <vector>

#include "../channel_receiver.h"
#include "arguments.h"
#include "errors.h"
#include "poll_owner.h"

namespace sticky {
namespace napi {

namespace {

class NativeChannelReceiver : public Napi::ObjectWrap<NativeChannelReceiver>, public PollOwner {
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
    receiver_.reset(new ChannelReceiver(fd));
    if (receiver_->open_error() != 0) {
      throw_system_error(env, "ChannelReceiver: cannot use its descriptor", receiver_->open_error());
      return;
    }
    if (!StartPoll(env, fd, UV_READABLE | UV_DISCONNECT, "ChannelReceiver")) return;
    on_sockets_ = Napi::Persistent(info[1].As<Napi::Function>());
    // Held while polling, so the receiver lives as long as its channel.
    self_ = Napi::Persistent(info.This().As<Napi::Object>());
  }

  ~NativeChannelReceiver() override { Shutdown(); }

 private:
  static constexpr int kCloseRounds = 64;

  // What the primary sent before this worker stopped taking connections is
  // still in the channel: it is delivered now, then the channel closes.
  void Close(const Napi::CallbackInfo& info) {
    std::vector<int> fds;
    std::vector<ChannelPeerRecord> peers;
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

  static Napi::Value PeerArray(Napi::Env env, const std::vector<ChannelPeerRecord>& peers) {
    const bool any =
        std::any_of(peers.begin(), peers.end(), [](const ChannelPeerRecord& peer) { return peer.family != 0; });
    if (!any) return env.Null();
    Napi::Array array = Napi::Array::New(env, peers.size());
    for (size_t i = 0; i < peers.size(); ++i) {
      const ChannelPeerRecord& peer = peers[i];
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

  void ClosePolled() override {
    if (receiver_) receiver_->close();
    on_sockets_.Reset();
    self_.Reset();
  }

  void OnPollReady() override {
    std::vector<int> fds;
    std::vector<ChannelPeerRecord> peers;
    const bool open = receiver_->receive(&fds, &peers);
    if (!fds.empty()) Deliver(fds, peers);
    // Descriptors first: whatever the primary sent before leaving is served.
    if (!open) Shutdown();
  }

  void Deliver(const std::vector<int>& fds, const std::vector<ChannelPeerRecord>& peers) {
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

  std::unique_ptr<ChannelReceiver> receiver_;
  Napi::FunctionReference on_sockets_;
  Napi::ObjectReference self_;
  Napi::AsyncContext async_context_;
};

}  // namespace

Napi::Function define_channel_receiver(Napi::Env env) { return NativeChannelReceiver::Define(env); }

}  // namespace napi
}  // namespace sticky

#endif  // STICKY_HAVE_CHANNEL
