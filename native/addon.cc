// vipd_native: the project's one N-API addon, for the few system calls Node cannot make.
//
//   packet_socket.cc  send-only AF_PACKET sockets (gratuitous ARP): open, send, close
//   notify.cc         sd_notify(3) on an AF_UNIX datagram socket, without libsystemd: notify
//   raw_socket.cc     raw IP sockets (VRRP, protocol 112), watched on the event loop: rawSocket
//   netlink_socket.cc NETLINK_ROUTE sockets, watched on the event loop: netlinkSocket
//   watched_socket.cc what both return (reading in batches, errors as events, close), on the
//                     uv_poll wrapper of poller.cc
//   timer.cc          one-shot timerfd timers at nanosecond deadlines, on the event loop: timer
//   fault.cc          the test hook that makes those sockets fail on purpose: injectFault
//
// One addon rather than one per feature: a single build product for `npm ci` to make and
// src/native.ts to load.
#include <napi.h>

#include "common.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  vipd::InitPacketSocket(env, exports);
  vipd::InitNotify(env, exports);
  vipd::InitWatchedSocket(env);
  vipd::InitRawSocket(env, exports);
  vipd::InitNetlinkSocket(env, exports);
  vipd::InitFault(env, exports);
  vipd::InitTimer(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(vipd_native, Init)
