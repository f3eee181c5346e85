// Poller: one descriptor watched for readability on Node's event loop (uv_poll_t), plus a timer
// on the same loop for work that must happen later on a fresh stack. Shared by every socket the
// addon watches (native/watched_socket.cc); it knows nothing of N-API values or of what the
// descriptor is.
//
// Neither handle keeps the process alive (uv_unref) unless the client asks (Hold): a daemon stays
// up because of its own timers and servers, and a script that merely forgot to close a socket
// still exits.
//
// Close() may be called from inside a callback of this very Poller: the handles are heap objects
// released by libuv's close callback, and they stop pointing at the client at once, so nothing
// reaches a client that is gone.
#ifndef VIPD_NATIVE_POLLER_H_
#define VIPD_NATIVE_POLLER_H_

#include <node_api.h>
#include <uv.h>

#include <cstdint>

namespace vipd {

class Poller {
 public:
  class Client {
   public:
    // `status` < 0 is a libuv error: libuv has stopped the poll (it does so on POLLERR, a
    // pending socket error) and Resume() starts it again.
    virtual void OnReadable(int status) = 0;
    virtual void OnTimer() = 0;

   protected:
    ~Client() = default;
  };

  Poller() = default;
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;
  ~Poller() { Close(); }

  // Starts watching `fd`. Returns 0, or a negative libuv error (nothing is left open then).
  int Open(napi_env env, int fd, Client* client);
  // Watches again after libuv stopped the poll on an error. Returns 0 or a libuv error.
  int Resume();
  // Calls OnTimer() once, `delay_ms` from now (0: on the loop's next turn); re-arms if pending.
  void Wake(uint64_t delay_ms);
  // Whether the watched descriptor keeps the loop alive (uv_ref) or not (the default).
  void Hold(bool hold);
  // Stops both handles for good; idempotent.
  void Close();

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimerFired(uv_timer_t* handle);
  static void OnClosed(uv_handle_t* handle);

  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
};

}  // namespace vipd

#endif  // VIPD_NATIVE_POLLER_H_
