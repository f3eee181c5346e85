// Raw IP sockets for VRRP (IP protocol 112), part of the vipd_native addon (native/addon.cc),
// replacing npm raw-socket (nan: does not build on Node 24; closed itself on any error, and vipd
// had to read its private fields to drain it).
//
//   rawSocket({ family: 4 | 6, protocol, ifname, local, group? }, onBatch, onError) -> NativeSocket
//   Both families, non-blocking and close-on-exec, with
//       SO_BINDTODEVICE   reads and sends on `ifname` only
//       SO_RCVBUF         kReceiveBuffer (SO_RCVBUFFORCE where allowed): a busy loop must not cost
//                         adverts
//   Family 4: socket(AF_INET, SOCK_RAW, protocol) with
//       IP_HDRINCL        vipd writes the IP header itself (TTL 255, TOS 0xc0, its own source:
//                         src/net/ipv4.ts), whatever the kernel would have picked
//       IP_MULTICAST_IF   multicast leaves through `ifname`, from `local` (by index, so it holds
//                         when the address changes)
//       IP_MULTICAST_LOOP 0: our own adverts are not read back
//       IP_ADD_MEMBERSHIP `group` on `ifname` (with `local`), when given
//       IP_PKTINFO        each datagram comes with the index of the interface it arrived on
//     onBatch(RawDatagram[]): { data: the whole packet, IP header first; ifindex }
//     send(packet, dst): one whole IPv4 packet to the dotted-quad `dst`
//   Family 6: socket(AF_INET6, SOCK_RAW, protocol). An IPv6 raw socket has no IP_HDRINCL for
//   this: the kernel writes the header, so what it must say is set here, as keepalived 2.2.7's
//   adverts carry it on the wire (traffic class 0xc0, hop limit 255):
//       IPV6_MULTICAST_IF   the interface's index; IPV6_MULTICAST_LOOP 0
//       IPV6_MULTICAST_HOPS, IPV6_UNICAST_HOPS 255 (RFC 5798 5.1.2.3: the receiver checks it)
//       IPV6_TCLASS         0xc0 (internetwork control, as the IPv4 TOS)
//       IPV6_ADD_MEMBERSHIP `group` (ff02::12) on the interface, when given
//       IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT: what the missing header would have told
//     and no IPV6_CHECKSUM: the kernel would drop a bad checksum unseen, vipd counts and logs it.
//     onBatch(RawDatagram[]): { data: the VRRP message only; src (16 bytes, the recvmsg address);
//       dst (16 bytes, IPV6_PKTINFO); hopLimit (IPV6_HOPLIMIT); ifindex }. A datagram whose
//       control message is missing gets dst :: or hopLimit 0, which vipd's checks refuse.
//     send(packet, dst): one VRRP message to the IPv6 `dst` (scope: the interface, for link-local
//       and multicast), sent with an IPV6_PKTINFO of `local` and the interface, so the source is
//       `local` or the send fails (EINVAL while `local` is tentative, i.e. in DAD, or not on the
//       interface), never another address the kernel would have picked.
//   Both families also set SO_TIMESTAMPNS: each datagram carries `receivedAt`, the kernel's
//   receive time on CLOCK_MONOTONIC in ms (the clock vipd's timers run on; the kernel stamps
//   CLOCK_REALTIME, converted by the datagram's age when read), or 0 when the control message is
//   missing. A backup's Master_Down_Timer runs from the advert's arrival, not from when the loop
//   got round to reading it (RFC 5798 6.4.2).
//   Reading, errors, close and faults: native/watched_socket.cc. An open fault (injectFault 'raw'
//   'open') throws before socket() is called. Errors are thrown as native/common.h describes,
//   naming the interface.
#include <napi.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common.h"
#include "fault.h"
#include "watched_socket.h"

namespace {

using vipd::ThrowErrno;
using vipd::ThrowType;

// 1 MiB (the kernel doubles it for its bookkeeping): a few thousand adverts of 40-60 bytes at
// the kernel's ~700 bytes of truesize each.
constexpr int kReceiveBuffer = 1 << 20;
// RFC 5798 5.1.2.3 / 5.1.1.3: sent with 255, so a receiver can tell the packet is from the link.
constexpr int kHopLimit = 255;
// Internetwork control (the IPv4 TOS vipd writes, and keepalived's traffic class).
constexpr int kTrafficClass = 0xc0;

constexpr const char* kUsage =
    "rawSocket({ family: 4 | 6, protocol: number, ifname: string, local: string, "
    "group?: string }, onBatch: function, onError: function)";

// The `dst` of send(packet, dst) in the socket's family; false after throwing a TypeError.
bool ReadDestination(const Napi::CallbackInfo& info, int family, void* out) {
  if (info.Length() >= 2 && info[1].IsString() &&
      inet_pton(family, info[1].As<Napi::String>().Utf8Value().c_str(), out) == 1) {
    return true;
  }
  ThrowType(info.Env(), family == AF_INET
                            ? "send(packet: Buffer, dst: string): dst must be an IPv4 address"
                            : "send(packet: Buffer, dst: string): dst must be an IPv6 address "
                              "(no zone: the socket's interface is the scope)");
  return false;
}

double Milliseconds(const timespec& t) {
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

// The SCM_TIMESTAMPNS of `message` on CLOCK_MONOTONIC (ms), or 0 without one. An arrival stamped
// after now (the wall clock stepped back meanwhile) counts as now.
double ReceivedAt(const msghdr& message) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&message), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS ||
        c->cmsg_len < CMSG_LEN(sizeof(timespec))) {
      continue;
    }
    timespec stamp;
    memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
    timespec real;
    timespec mono;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    const double age = Milliseconds(real) - Milliseconds(stamp);
    return Milliseconds(mono) - (age > 0 ? age : 0);
  }
  return 0;
}

class Ipv4Protocol : public vipd::Protocol {
 public:
  vipd::FaultKind kind() const override { return vipd::FaultKind::kRaw; }

  bool Destination(const Napi::CallbackInfo& info, sockaddr_storage* dst,
                   socklen_t* length) const override {
    sockaddr_in* address = reinterpret_cast<sockaddr_in*>(dst);
    address->sin_family = AF_INET;
    if (!ReadDestination(info, AF_INET, &address->sin_addr)) return false;
    *length = sizeof *address;
    return true;
  }

  Napi::Value Datagram(Napi::Env env, const uint8_t* data, size_t size,
                       const msghdr& message) const override {
    int ifindex = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&message), c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        memcpy(&info, CMSG_DATA(c), sizeof info);
        ifindex = info.ipi_ifindex;
      }
    }
    Napi::Object datagram = Napi::Object::New(env);
    datagram.Set("data", Napi::Buffer<uint8_t>::Copy(env, data, size));
    datagram.Set("ifindex", Napi::Number::New(env, ifindex));
    datagram.Set("receivedAt", Napi::Number::New(env, ReceivedAt(message)));
    return datagram;
  }
};

class Ipv6Protocol : public vipd::Protocol {
 public:
  Ipv6Protocol(const in6_addr& local, unsigned int ifindex) : local_(local), ifindex_(ifindex) {}

  vipd::FaultKind kind() const override { return vipd::FaultKind::kRaw; }

  bool Destination(const Napi::CallbackInfo& info, sockaddr_storage* dst,
                   socklen_t* length) const override {
    sockaddr_in6* address = reinterpret_cast<sockaddr_in6*>(dst);
    address->sin6_family = AF_INET6;
    if (!ReadDestination(info, AF_INET6, &address->sin6_addr)) return false;
    // A link-local or multicast address means nothing without its link: ours.
    if (IN6_IS_ADDR_LINKLOCAL(&address->sin6_addr) || IN6_IS_ADDR_MULTICAST(&address->sin6_addr)) {
      address->sin6_scope_id = ifindex_;
    }
    *length = sizeof *address;
    return true;
  }

  size_t Control(uint8_t* area, size_t room) const override {
    const size_t needed = CMSG_SPACE(sizeof(in6_pktinfo));
    if (room < needed) return 0;
    memset(area, 0, needed);
    cmsghdr* c = reinterpret_cast<cmsghdr*>(area);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
    in6_pktinfo info = {};
    info.ipi6_addr = local_;
    info.ipi6_ifindex = ifindex_;
    memcpy(CMSG_DATA(c), &info, sizeof info);
    return needed;
  }

  Napi::Value Datagram(Napi::Env env, const uint8_t* data, size_t size,
                       const msghdr& message) const override {
    in6_addr src = {};
    in6_addr dst = {};
    int ifindex = 0;
    int hop_limit = 0;
    if (message.msg_namelen >= sizeof(sockaddr_in6)) {
      const sockaddr_in6* from = static_cast<const sockaddr_in6*>(message.msg_name);
      if (from->sin6_family == AF_INET6) src = from->sin6_addr;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr;
         c = CMSG_NXTHDR(const_cast<msghdr*>(&message), c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
        in6_pktinfo info;
        memcpy(&info, CMSG_DATA(c), sizeof info);
        dst = info.ipi6_addr;
        ifindex = static_cast<int>(info.ipi6_ifindex);
      } else if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        memcpy(&hop_limit, CMSG_DATA(c), sizeof hop_limit);
      }
    }
    Napi::Object datagram = Napi::Object::New(env);
    datagram.Set("data", Napi::Buffer<uint8_t>::Copy(env, data, size));
    datagram.Set("src", Napi::Buffer<uint8_t>::Copy(env, src.s6_addr, sizeof src.s6_addr));
    datagram.Set("dst", Napi::Buffer<uint8_t>::Copy(env, dst.s6_addr, sizeof dst.s6_addr));
    datagram.Set("hopLimit", Napi::Number::New(env, hop_limit));
    datagram.Set("ifindex", Napi::Number::New(env, ifindex));
    datagram.Set("receivedAt", Napi::Number::New(env, ReceivedAt(message)));
    return datagram;
  }

 private:
  const in6_addr local_;
  const unsigned int ifindex_;
};

bool ReadAddress(const Napi::Object& options, const char* key, int family, void* out) {
  const Napi::Value value = options.Get(key);
  return value.IsString() &&
         inet_pton(family, value.As<Napi::String>().Utf8Value().c_str(), out) == 1;
}

struct Option {
  int level;
  int name;
  const void* value;
  socklen_t length;
  const char* label;
};

Napi::Value RawSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() ||
      !info[2].IsFunction()) {
    return ThrowType(env, kUsage);
  }
  const Napi::Object options = info[0].As<Napi::Object>();
  const Napi::Value familyValue = options.Get("family");
  const Napi::Value protocol = options.Get("protocol");
  const Napi::Value ifnameValue = options.Get("ifname");
  const int family = familyValue.IsNumber() ? familyValue.As<Napi::Number>().Int32Value() : 0;
  if (family != 4 && family != 6) return ThrowType(env, kUsage);
  const bool v6 = family == 6;
  const int af = v6 ? AF_INET6 : AF_INET;
  // Room for either family's address.
  in6_addr local = {};
  in6_addr group = {};
  const bool joins = !options.Get("group").IsUndefined();
  if (!protocol.IsNumber() || !ifnameValue.IsString() ||
      !ReadAddress(options, "local", af, &local) ||
      (joins && !ReadAddress(options, "group", af, &group))) {
    return ThrowType(env, kUsage);
  }
  const int proto = protocol.As<Napi::Number>().Int32Value();
  if (proto <= 0 || proto > 255) return ThrowType(env, "rawSocket: protocol must be 1..255");
  const std::string ifname = ifnameValue.As<Napi::String>().Utf8Value();
  const char* const socket_call = v6 ? "socket(AF_INET6, SOCK_RAW)" : "socket(AF_INET, SOCK_RAW)";

  int err = 0;
  if (vipd::TakeFault(vipd::FaultKind::kRaw, vipd::FaultOp::kOpen, &err)) {
    return ThrowErrno(env, err, socket_call, ifname);
  }
  const unsigned int ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) return ThrowErrno(env, errno, "if_nametoindex", ifname);
  const int fd = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) return ThrowErrno(env, errno, socket_call, ifname);

  // The values the options point to, for either family.
  const int one = 1;
  const int zero = 0;
  const int index = static_cast<int>(ifindex);
  ip_mreqn on_interface = {};
  memcpy(&on_interface.imr_address, &local, sizeof(in_addr));
  on_interface.imr_ifindex = index;
  ip_mreqn membership = on_interface;
  memcpy(&membership.imr_multiaddr, &group, sizeof(in_addr));
  ipv6_mreq membership6 = {};
  membership6.ipv6mr_multiaddr = group;
  membership6.ipv6mr_interface = ifindex;

  std::vector<Option> settings = {
      {SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), static_cast<socklen_t>(ifname.size()),
       "setsockopt(SO_BINDTODEVICE)"},
      {SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one, "setsockopt(SO_TIMESTAMPNS)"},
  };
  if (v6) {
    settings.insert(
        settings.end(),
        {
            {IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof index,
             "setsockopt(IPV6_MULTICAST_IF)"},
            {IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof zero,
             "setsockopt(IPV6_MULTICAST_LOOP)"},
            {IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &kHopLimit, sizeof kHopLimit,
             "setsockopt(IPV6_MULTICAST_HOPS)"},
            {IPPROTO_IPV6, IPV6_UNICAST_HOPS, &kHopLimit, sizeof kHopLimit,
             "setsockopt(IPV6_UNICAST_HOPS)"},
            {IPPROTO_IPV6, IPV6_TCLASS, &kTrafficClass, sizeof kTrafficClass,
             "setsockopt(IPV6_TCLASS)"},
            {IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one, "setsockopt(IPV6_RECVPKTINFO)"},
            {IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one,
             "setsockopt(IPV6_RECVHOPLIMIT)"},
        });
    if (joins) {
      settings.push_back({IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &membership6, sizeof membership6,
                          "setsockopt(IPV6_ADD_MEMBERSHIP)"});
    }
  } else {
    settings.insert(settings.end(),
                    {
                        {IPPROTO_IP, IP_HDRINCL, &one, sizeof one, "setsockopt(IP_HDRINCL)"},
                        {IPPROTO_IP, IP_MULTICAST_IF, &on_interface, sizeof on_interface,
                         "setsockopt(IP_MULTICAST_IF)"},
                        {IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof zero,
                         "setsockopt(IP_MULTICAST_LOOP)"},
                        {IPPROTO_IP, IP_PKTINFO, &one, sizeof one, "setsockopt(IP_PKTINFO)"},
                    });
    if (joins) {
      settings.push_back({IPPROTO_IP, IP_ADD_MEMBERSHIP, &membership, sizeof membership,
                          "setsockopt(IP_ADD_MEMBERSHIP)"});
    }
  }
  // Each option in turn; the first refusal closes the socket and names the option.
  for (const Option& o : settings) {
    if (setsockopt(fd, o.level, o.name, o.value, o.length) != 0) {
      err = errno;
      ::close(fd);
      return ThrowErrno(env, err, o.label, ifname);
    }
  }
  // SO_RCVBUFFORCE needs CAP_NET_ADMIN, a raw socket only CAP_NET_RAW: SO_RCVBUF then, which the
  // kernel caps at net.core.rmem_max. A smaller buffer is no reason to refuse the socket.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBuffer, sizeof kReceiveBuffer) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer);
  }
  std::unique_ptr<vipd::Protocol> kind;
  if (v6) {
    kind = std::make_unique<Ipv6Protocol>(local, ifindex);
  } else {
    kind = std::make_unique<Ipv4Protocol>();
  }
  return vipd::WatchSocket(env, fd, std::move(kind), ifname, info[1].As<Napi::Function>(),
                           info[2].As<Napi::Function>());
}

}  // namespace

void vipd::InitRawSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("rawSocket", Napi::Function::New(env, RawSocket, "rawSocket"));
}
