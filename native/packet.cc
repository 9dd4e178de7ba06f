// AF_PACKET sockets for `netdev` ports: frames of an existing interface, with the same 12-byte virtio-net
// header as the TAPs (PACKET_VNET_HDR_SZ, Linux 6.4+), so GSO and partial-checksum frames pass through whole.
// Order: socket(protocol 0, so nothing queues before bind) -> header size -> ignore our own sends -> bind
// to the interface for all protocols -> promiscuous membership (a switch port takes every frame).
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#ifndef PACKET_VNET_HDR_SZ
#define PACKET_VNET_HDR_SZ 24
#endif

namespace tw {
namespace {

// openPacket({ ifname }) -> { fd, ifindex, mtu }: a non-blocking AF_PACKET socket on `ifname` (in the
// daemon's namespace) with 12-byte virtio-net headers, that does not see its own sends.
Napi::Value OpenPacket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowType(env, "openPacket(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string ifname = o.Get("ifname").IsString() ? o.Get("ifname").As<Napi::String>().Utf8Value() : "";
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) return ThrowType(env, "openPacket: bad ifname");
  unsigned ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) return ThrowErrno(env, errno, "if_nametoindex(" + ifname + ")");
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, errno, "socket(AF_PACKET)");
  auto fail = [&](const std::string& call) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, err, call);
  };
  int hdr = 12;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR_SZ, &hdr, sizeof hdr) < 0) return fail("setsockopt(PACKET_VNET_HDR_SZ 12; Linux 6.4+)");
  int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) return fail("setsockopt(PACKET_IGNORE_OUTGOING)");
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(ifindex);
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll) < 0) return fail("bind(AF_PACKET " + ifname + ")");
  struct packet_mreq mr;
  memset(&mr, 0, sizeof mr);
  mr.mr_ifindex = static_cast<int>(ifindex);
  mr.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) return fail("setsockopt(PACKET_ADD_MEMBERSHIP promisc)");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname.data(), ifname.size());
  if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) return fail("ioctl(SIOCGIFMTU " + ifname + ")");
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", fd);
  result.Set("ifindex", ifindex);
  result.Set("mtu", ifr.ifr_mtu);
  return result;
}

}  // namespace

Napi::Object InitPacket(Napi::Env env, Napi::Object exports) {
  exports.Set("openPacket", Napi::Function::New(env, OpenPacket, "openPacket"));
  return exports;
}

}  // namespace tw
