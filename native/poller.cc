// Poller (native/poller.h): a uv_poll_t for readability and a uv_timer_t, both unref'd, both
// closed with uv_close and freed in its callback.
#include "poller.h"

namespace vipd {

int Poller::Open(napi_env env, int fd, Client* client) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return UV_EINVAL;
  poll_ = new uv_poll_t;
  int status = uv_poll_init(loop, poll_, fd);
  if (status != 0) {
    // Not initialised: nothing for libuv to close.
    delete poll_;
    poll_ = nullptr;
    return status;
  }
  poll_->data = client;
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  timer_ = new uv_timer_t;
  uv_timer_init(loop, timer_);  // cannot fail
  timer_->data = client;
  uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
  status = Resume();
  if (status != 0) Close();
  return status;
}

int Poller::Resume() {
  if (poll_ == nullptr) return UV_EBADF;
  return uv_poll_start(poll_, UV_READABLE, OnPoll);
}

void Poller::Wake(uint64_t delay_ms) {
  if (timer_ != nullptr) uv_timer_start(timer_, OnTimerFired, delay_ms, 0);
}

void Poller::Hold(bool hold) {
  if (poll_ == nullptr) return;
  if (hold) {
    uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
}

void Poller::Close() {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnClosed);
    poll_ = nullptr;
  }
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    timer_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), OnClosed);
    timer_ = nullptr;
  }
}

void Poller::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  // data is cleared by Close(), and uv_poll_stop guarantees no further callback, so this is a
  // guard, not a race.
  if (handle->data != nullptr) static_cast<Client*>(handle->data)->OnReadable(status);
}

void Poller::OnTimerFired(uv_timer_t* handle) {
  if (handle->data != nullptr) static_cast<Client*>(handle->data)->OnTimer();
}

void Poller::OnClosed(uv_handle_t* handle) {
  if (handle->type == UV_POLL) {
    delete reinterpret_cast<uv_poll_t*>(handle);
  } else {
    delete reinterpret_cast<uv_timer_t*>(handle);
  }
}

}  // namespace vipd
