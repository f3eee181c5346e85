// WatchedSocket: the JS object rawSocket() and netlinkSocket() return (src/native.ts
// NativeSocket), for any datagram socket the addon watches on Node's event loop. The kinds differ
// only in how they open (native/raw_socket.cc, native/netlink_socket.cc) and in a Protocol: where
// a send goes, and what JS value a datagram read becomes. Reading, batching, error delivery,
// fault injection and closing are written once, here.
#ifndef VIPD_NATIVE_WATCHED_SOCKET_H_
#define VIPD_NATIVE_WATCHED_SOCKET_H_

#include <napi.h>

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fault.h"

namespace vipd {

class Protocol {
 public:
  virtual ~Protocol() = default;
  virtual FaultKind kind() const = 0;
  // Fills the destination of send(packet, ...) from its arguments after the packet; false after
  // throwing a TypeError.
  virtual bool Destination(const Napi::CallbackInfo& info, sockaddr_storage* dst,
                           socklen_t* length) const = 0;
  // One datagram as onBatch receives it, or an empty value to drop it (not ours to deliver).
  // `message` is recvmsg's header: the sender's address and the control messages.
  virtual Napi::Value Datagram(Napi::Env env, const uint8_t* data, size_t size,
                               const msghdr& message) const = 0;
  // Control messages sent with every datagram (an IPv6 raw socket's IPV6_PKTINFO: the source is
  // chosen per send), written into `area` (`room` bytes, cmsghdr-aligned): their length, 0 for
  // none. With none, send() is a plain sendto.
  virtual size_t Control(uint8_t* /*area*/, size_t /*room*/) const { return 0; }
};

// Opens a watched socket on `fd`, which it owns from here on (closed on failure too). Throws and
// returns undefined when the poll cannot start.
Napi::Value WatchSocket(Napi::Env env, int fd, std::unique_ptr<Protocol> protocol,
                        const std::string& subject, Napi::Function on_batch,
                        Napi::Function on_error);

}  // namespace vipd

#endif  // VIPD_NATIVE_WATCHED_SOCKET_H_
