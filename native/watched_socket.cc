// The socket object of rawSocket() and netlinkSocket() (native/watched_socket.h), part of the
// vipd_native addon (native/addon.cc). Contract, as src/native.ts states it for NativeSocket:
//
//   readiness    everything queued is read now, up to kDrainMax datagrams a turn, and onBatch is
//                called once with the lot (each datagram copied out of the socket's reusable
//                receive area). A node process that was busy, and so left many routers' adverts
//                queued, must read them all before its timers run, or master-down timers fire
//                for routers whose adverts are waiting; the bound keeps a flood from holding the
//                loop (the rest is read on the next turn). EAGAIN ends a drain, EINTR is retried.
//   errors       a failed read (errno, syscall 'recvmsg'), a pending socket error (SO_ERROR: the
//                kernel's ENOBUFS overrun of a netlink socket, an ENETDOWN) or a poll error
//                (syscall 'poll') call onError once with an Error as native/common.h makes them;
//                the socket is still watched, the owner decides whether to reopen.
//   send         sendto with MSG_DONTWAIT (sendmsg, and errors naming it, when the Protocol adds
//                control messages); throws on failure (EAGAIN, ENOBUFS included). A failed send
//                is tried once more: a pending error (a link that flapped while the box was
//                backup left ENETDOWN) fails the first send that meets it and is cleared by it;
//                when the second try goes, the first error goes to onError on the loop's next
//                turn instead of failing this send.
//   drain        what readiness does, now: onBatch (and onError) are called before it returns.
//                A deadline that fires must not be decided ahead of an advert already queued.
//   close        stops watching and closes the descriptor; idempotent, safe from inside onBatch
//                or onError; send() afterwards throws EBADF, fd reads -1.
//   faults       injectFault (native/fault.cc) is taken where the real call would fail: 'send'
//                before sendto, 'recv' at a readiness event (the queued datagrams are read and
//                dropped, so the poll does not fire again at once, and onError gets the errno).
//
// An open socket holds a strong reference to its JS object, so a socket nobody references still
// delivers until closed; the poll itself never keeps the process alive (native/poller.h).
// Callbacks run through MakeCallback (async hooks, then promise jobs and nextTicks run after each,
// as for any I/O callback); an exception a callback throws is the process's uncaught exception,
// as for an EventEmitter listener. An environment that is torn down closes its open sockets.
#include "watched_socket.h"

#include <napi.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "common.h"
#include "poller.h"

namespace vipd {
namespace {

// Datagrams read per readiness event at most: 2 per router for 128 routers.
constexpr uint32_t kDrainMax = 256;
// Any IPv4 packet fits, and a netlink dump part (the kernel builds them up to 32 KiB).
constexpr size_t kReceiveArea = 65536;
// Room for the control messages asked for (IP_PKTINFO; IPV6_PKTINFO and IPV6_HOPLIMIT), and for
// those a send carries (IPV6_PKTINFO).
constexpr size_t kControlArea = 256;
// A poll error without a pending socket error to clear could repeat at once: watch again later.
constexpr uint64_t kPollRetryMs = 100;

class WatchedSocket : public Napi::ObjectWrap<WatchedSocket>, public Poller::Client {
 public:
  static Napi::Function DefineClass(Napi::Env env) {
    return Napi::ObjectWrap<WatchedSocket>::DefineClass(
        env, "NativeSocket",
        {InstanceAccessor<&WatchedSocket::Fd>("fd"),
         InstanceMethod<&WatchedSocket::Send>("send"),
         InstanceMethod<&WatchedSocket::DrainNow>("drain"),
         InstanceMethod<&WatchedSocket::Close>("close")});
  }

  static Napi::Value Create(Napi::Env env, int fd, std::unique_ptr<Protocol> protocol,
                            const std::string& subject, Napi::Function on_batch,
                            Napi::Function on_error) {
    Napi::Object object = env.GetInstanceData<AddonData>()->socket_class.New({});
    if (env.IsExceptionPending()) {
      ::close(fd);
      return env.Undefined();
    }
    WatchedSocket* socket = Unwrap(object);
    socket->protocol_ = std::move(protocol);
    socket->subject_ = subject;
    socket->area_.resize(kReceiveArea);
    const int status = socket->poller_.Open(env, fd, socket);
    if (status != 0) {
      ::close(fd);
      return ThrowErrno(env, -status, "uv_poll_init", subject);
    }
    socket->fd_ = fd;
    socket->on_batch_ = Napi::Persistent(on_batch);
    socket->on_error_ = Napi::Persistent(on_error);
    socket->context_ = std::make_unique<Napi::AsyncContext>(env, "vipd:NativeSocket", object);
    socket->Ref();
    napi_add_env_cleanup_hook(env, OnEnvCleanup, socket);
    socket->cleanup_hook_ = true;
    return object;
  }

  // Only Create makes working ones; one made from JS (`new socket.constructor()`) is closed.
  explicit WatchedSocket(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<WatchedSocket>(info) {}

  ~WatchedSocket() override { Shut(); }

  void OnReadable(int status) override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    // A callback may close this socket, dropping its strong reference: this local handle keeps
    // the object, and so `this`, alive until we return.
    [[maybe_unused]] const Napi::Object self = Value();
    if (status < 0) {
      // libuv stopped the poll on POLLERR: a pending socket error. Reading it clears it.
      const int err = TakeSocketError(fd_);
      if (err == 0) {
        poll_stopped_ = true;
        poller_.Wake(kPollRetryMs);
        Report(env, -status, "poll");
        return;
      }
      const int resumed = poller_.Resume();
      if (!Report(env, err, "SO_ERROR")) return;
      if (resumed != 0) {
        Report(env, -resumed, "poll");
        return;
      }
    }
    Drain(env);
  }

  void OnTimer() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    [[maybe_unused]] const Napi::Object self = Value();
    if (poll_stopped_) {
      poll_stopped_ = false;
      const int resumed = poller_.Resume();
      if (resumed != 0 && !Report(env, -resumed, "poll")) return;
    }
    std::vector<int> errors;
    errors.swap(deferred_);
    for (const int err : errors) {
      if (!Report(env, err, "SO_ERROR")) return;
    }
  }

 private:
  static void OnEnvCleanup(void* arg) {
    WatchedSocket* socket = static_cast<WatchedSocket*>(arg);
    socket->cleanup_hook_ = false;
    socket->Shut();
    socket->context_.reset();
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    alignas(cmsghdr) uint8_t control[kControlArea];
    const size_t control_length = protocol_->Control(control, sizeof control);
    const char* call = control_length > 0 ? "sendmsg" : "sendto";
    if (fd_ < 0) return ThrowErrno(env, EBADF, call, subject_);
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      return ThrowType(env, "send(packet: Buffer, dst?: string)");
    }
    sockaddr_storage destination = {};
    socklen_t length = 0;
    if (!protocol_->Destination(info, &destination, &length)) return env.Undefined();
    int err = 0;
    if (TakeFault(protocol_->kind(), FaultOp::kSend, &err)) {
      return ThrowErrno(env, err, call, subject_);
    }
    const Napi::Buffer<uint8_t> packet = info[0].As<Napi::Buffer<uint8_t>>();
    iovec vector = {packet.Data(), packet.Length()};
    msghdr message = {};
    message.msg_name = &destination;
    message.msg_namelen = length;
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    if (control_length > 0) {
      message.msg_control = control;
      message.msg_controllen = control_length;
    }
    const auto transmit = [&]() {
      ssize_t sent;
      do {
        sent = control_length > 0
                   ? sendmsg(fd_, &message, MSG_DONTWAIT | MSG_NOSIGNAL)
                   : sendto(fd_, packet.Data(), packet.Length(), MSG_DONTWAIT | MSG_NOSIGNAL,
                            reinterpret_cast<const sockaddr*>(&destination), length);
      } while (sent < 0 && errno == EINTR);
      return sent < 0 ? errno : 0;
    };
    const int first = transmit();
    if (first == 0) return env.Undefined();
    // A pending socket error (ENETDOWN left by a link flap while the box was backup) fails the
    // first send that meets it, and is cleared by doing so. Reported, not lost: the owner learns
    // the link had trouble, and the send is judged again on its own (it fails by itself if the
    // trouble is still there). Trying first spares every good send a getsockopt(SO_ERROR).
    const int again = transmit();
    if (again != 0) return ThrowErrno(env, again, call, subject_);
    deferred_.push_back(first);
    poller_.Wake(0);
    return env.Undefined();
  }

  Napi::Value DrainNow(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) Drain(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) {
      Shut();
      deferred_.clear();
      // The callbacks may be running right now (close from inside one): their functions stay
      // alive on the stack; only our hold on them goes.
      on_batch_.Reset();
      on_error_.Reset();
      Unref();
    }
    return info.Env().Undefined();
  }

  // Stops the poll and closes the descriptor: what close() and a torn-down environment share.
  void Shut() {
    if (fd_ < 0) return;
    poller_.Close();
    ::close(fd_);  // Linux frees the descriptor even when close reports an error
    fd_ = -1;
    if (cleanup_hook_) {
      napi_remove_env_cleanup_hook(Env(), OnEnvCleanup, this);
      cleanup_hook_ = false;
    }
  }

  // One recvmsg into the receive area; the size read, or -1 with *err set.
  ssize_t Receive(msghdr* message, sockaddr_storage* from, char* control, int* err) {
    iovec vector = {area_.data(), area_.size()};
    *message = {};
    message->msg_name = from;
    message->msg_namelen = sizeof *from;
    message->msg_iov = &vector;
    message->msg_iovlen = 1;
    message->msg_control = control;
    message->msg_controllen = kControlArea;
    ssize_t size;
    do {
      size = recvmsg(fd_, message, MSG_DONTWAIT);
    } while (size < 0 && errno == EINTR);
    if (size < 0) *err = errno;
    return size;
  }

  void Drain(Napi::Env env) {
    sockaddr_storage from;
    alignas(cmsghdr) char control[kControlArea];
    msghdr message;
    int err = 0;
    if (TakeFault(protocol_->kind(), FaultOp::kRecv, &err)) {
      int ignored = 0;
      for (uint32_t reads = 0; reads < kDrainMax; ++reads) {
        if (Receive(&message, &from, control, &ignored) < 0) break;
      }
      Report(env, err, "recvmsg");
      return;
    }
    Napi::Array batch = Napi::Array::New(env);
    uint32_t count = 0;
    for (uint32_t reads = 0; reads < kDrainMax; ++reads) {
      int failed = 0;
      const ssize_t size = Receive(&message, &from, control, &failed);
      if (size < 0) {
        if (failed != EAGAIN && failed != EWOULDBLOCK) err = failed;
        break;
      }
      if ((message.msg_flags & MSG_TRUNC) != 0) {
        // Larger than the receive area (only a netlink message could be): lost, and said so.
        if (err == 0) err = EMSGSIZE;
        continue;
      }
      const Napi::Value item =
          protocol_->Datagram(env, area_.data(), static_cast<size_t>(size), message);
      if (!item.IsEmpty()) batch.Set(count++, item);
    }
    // In the kernel's order: what was queued before the failure, then the failure.
    if (count > 0 && !Deliver(on_batch_, batch)) return;
    if (err != 0) Report(env, err, "recvmsg");
  }

  // False when the callback closed the socket: the caller must stop touching it.
  bool Report(Napi::Env env, int err, const char* syscall) {
    return Deliver(on_error_, ErrnoError(env, err, syscall, subject_).Value());
  }

  bool Deliver(const Napi::FunctionReference& callback, napi_value argument) {
    if (fd_ < 0 || callback.IsEmpty()) return false;
    Napi::Env env = Env();
    callback.MakeCallback(Value(), {argument}, *context_);
    if (env.IsExceptionPending()) {
      napi_fatal_exception(env, env.GetAndClearPendingException().Value());
    }
    return fd_ >= 0;
  }

  int fd_ = -1;
  std::unique_ptr<Protocol> protocol_;
  std::string subject_;
  Napi::FunctionReference on_batch_;
  Napi::FunctionReference on_error_;
  std::unique_ptr<Napi::AsyncContext> context_;
  Poller poller_;
  std::vector<uint8_t> area_;
  std::vector<int> deferred_;  // pending errors found before sends, for the next loop turn
  bool poll_stopped_ = false;  // libuv stopped the poll on an error: the timer resumes it
  bool cleanup_hook_ = false;
};

}  // namespace

Napi::Value WatchSocket(Napi::Env env, int fd, std::unique_ptr<Protocol> protocol,
                        const std::string& subject, Napi::Function on_batch,
                        Napi::Function on_error) {
  return WatchedSocket::Create(env, fd, std::move(protocol), subject, on_batch, on_error);
}

void InitWatchedSocket(Napi::Env env) {
  InstanceData(env)->socket_class = Napi::Persistent(WatchedSocket::DefineClass(env));
}

}  // namespace vipd
