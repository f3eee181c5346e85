// The one-shot timer timer() returns (src/native.ts NativeTimer), part of the vipd_native addon
// (native/addon.cc): a timerfd on CLOCK_MONOTONIC armed at an absolute time (TFD_TIMER_ABSTIME),
// watched on Node's event loop as the sockets are (native/poller.h). libuv's timers count whole
// milliseconds from the loop's cached time, so a deadline there is met a millisecond or two late;
// the timerfd expires when the kernel's hrtimer says, and epoll wakes the loop for it.
//
//   arm(atMs)  fires once when CLOCK_MONOTONIC reaches atMs milliseconds (a double, the scale of
//              process.hrtime.bigint() / 1e6); replaces the pending deadline; a time already
//              past fires on the loop's next turn. While armed it keeps the process alive, as a
//              setTimeout does. Setting a timerfd clears its count: an expiry the loop has seen
//              but not delivered is dropped with the deadline it replaced.
//   close()    closes the descriptor; idempotent; arm() afterwards throws EBADF.
//   onFire     called with no argument through MakeCallback, as any I/O callback; an exception
//              it throws is the process's uncaught exception. It may arm or close the timer.
//
// An open timer holds a strong reference to its JS object; an environment that is torn down
// closes its open timers.
#include <napi.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <memory>

#include "common.h"
#include "poller.h"

namespace vipd {
namespace {

constexpr int64_t kNsPerSec = 1000000000;

class NativeTimer : public Napi::ObjectWrap<NativeTimer>, public Poller::Client {
 public:
  static Napi::Function DefineClass(Napi::Env env) {
    return Napi::ObjectWrap<NativeTimer>::DefineClass(
        env, "NativeTimer",
        {InstanceMethod<&NativeTimer::Arm>("arm"), InstanceMethod<&NativeTimer::Close>("close")});
  }

  static Napi::Value Create(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) {
      return ThrowType(env, "timer(onFire: () => void)");
    }
    const int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0) return ThrowErrno(env, errno, "timerfd_create", "");
    Napi::Object object = env.GetInstanceData<AddonData>()->timer_class.New({});
    if (env.IsExceptionPending()) {
      ::close(fd);
      return env.Undefined();
    }
    NativeTimer* timer = Unwrap(object);
    const int status = timer->poller_.Open(env, fd, timer);
    if (status != 0) {
      ::close(fd);
      return ThrowErrno(env, -status, "uv_poll_init", "timerfd");
    }
    timer->fd_ = fd;
    timer->on_fire_ = Napi::Persistent(info[0].As<Napi::Function>());
    timer->context_ = std::make_unique<Napi::AsyncContext>(env, "vipd:NativeTimer", object);
    timer->Ref();
    napi_add_env_cleanup_hook(env, OnEnvCleanup, timer);
    timer->cleanup_hook_ = true;
    return object;
  }

  // Only Create makes working ones; one made from JS (`new timer.constructor()`) is closed.
  explicit NativeTimer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTimer>(info) {}

  ~NativeTimer() override { Shut(); }

  void OnReadable(int /*status*/) override {
    // A poll error cannot come from a timerfd; the read below says whether it expired.
    uint64_t expirations = 0;
    if (read(fd_, &expirations, sizeof expirations) != sizeof expirations) return;
    poller_.Hold(false);
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    // onFire may close this timer, dropping its strong reference: this handle keeps `this`.
    const Napi::Object self = Value();
    on_fire_.MakeCallback(self, {}, *context_);
    if (env.IsExceptionPending()) {
      napi_fatal_exception(env, env.GetAndClearPendingException().Value());
    }
  }

  // Poller's libuv timer is never woken (Wake): the timerfd is this object's timer.
  void OnTimer() override {}

 private:
  static void OnEnvCleanup(void* arg) {
    NativeTimer* timer = static_cast<NativeTimer*>(arg);
    timer->cleanup_hook_ = false;
    timer->Shut();
    timer->context_.reset();
  }

  Napi::Value Arm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) return ThrowType(env, "arm(atMs: number)");
    const double at_ms = info[0].As<Napi::Number>().DoubleValue();
    if (!std::isfinite(at_ms) || at_ms < 0) return ThrowType(env, "arm(atMs): a time >= 0");
    if (fd_ < 0) return ThrowErrno(env, EBADF, "timerfd_settime", "timerfd");
    const double whole = std::floor(at_ms / 1000);
    int64_t sec = static_cast<int64_t>(whole);
    int64_t nsec = std::llround((at_ms - whole * 1000) * 1e6);
    if (nsec >= kNsPerSec) {
      sec += 1;
      nsec -= kNsPerSec;
    }
    // An all-zero it_value would disarm: time 0 is long past, so 1 ns is the same deadline.
    if (sec == 0 && nsec == 0) nsec = 1;
    itimerspec spec = {};
    spec.it_value.tv_sec = static_cast<time_t>(sec);
    spec.it_value.tv_nsec = static_cast<long>(nsec);
    if (timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
      return ThrowErrno(env, errno, "timerfd_settime", "timerfd");
    }
    poller_.Hold(true);
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) {
      Shut();
      on_fire_.Reset();
      Unref();
    }
    return info.Env().Undefined();
  }

  void Shut() {
    if (fd_ < 0) return;
    poller_.Close();
    ::close(fd_);
    fd_ = -1;
    if (cleanup_hook_) {
      napi_remove_env_cleanup_hook(Env(), OnEnvCleanup, this);
      cleanup_hook_ = false;
    }
  }

  int fd_ = -1;
  Napi::FunctionReference on_fire_;
  std::unique_ptr<Napi::AsyncContext> context_;
  Poller poller_;
  bool cleanup_hook_ = false;
};

}  // namespace

void InitTimer(Napi::Env env, Napi::Object exports) {
  InstanceData(env)->timer_class = Napi::Persistent(NativeTimer::DefineClass(env));
  exports.Set("timer", Napi::Function::New(env, NativeTimer::Create, "timer"));
}

}  // namespace vipd
