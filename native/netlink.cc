// Link and address configuration over rtnetlink, without shelling out: the calls run in the daemon's own
// network namespace or, for a named one, on this thread temporarily switched into it (tw::Netns).
// Each call opens one NETLINK_ROUTE socket, sends one request with NLM_F_ACK and reads the ack.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "common.h"

namespace tw {
namespace {

struct Request {
  struct nlmsghdr hdr;
  char body[1024];
};

void AddAttr(Request* req, unsigned short type, const void* data, size_t len) {
  size_t off = NLMSG_ALIGN(req->hdr.nlmsg_len);
  struct rtattr* rta = reinterpret_cast<struct rtattr*>(reinterpret_cast<char*>(&req->hdr) + off);
  rta->rta_type = type;
  rta->rta_len = RTA_LENGTH(len);
  if (len > 0) memcpy(RTA_DATA(rta), data, len);
  req->hdr.nlmsg_len = off + RTA_ALIGN(rta->rta_len);
}

// Talk sends one request and returns 0 or the errno of the kernel's answer (or of the socket calls).
int Talk(Request* req) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return errno;
  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  req->hdr.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  req->hdr.nlmsg_seq = 1;
  if (sendto(fd, req, req->hdr.nlmsg_len, 0, reinterpret_cast<struct sockaddr*>(&kernel), sizeof kernel) < 0) {
    int err = errno;
    close(fd);
    return err;
  }
  char buf[8192];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return err;
    }
    for (struct nlmsghdr* h = reinterpret_cast<struct nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != 1) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
          close(fd);
          return EPROTO;
        }
        const struct nlmsgerr* e = static_cast<const struct nlmsgerr*>(NLMSG_DATA(h));
        close(fd);
        return -e->error;
      }
    }
  }
}

std::string StringProp(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
}

// Resolve finds the interface index of `ifname` in the calling thread's current namespace.
int Resolve(const std::string& ifname, int* index) {
  unsigned i = if_nametoindex(ifname.c_str());
  if (i == 0) return errno;
  *index = static_cast<int>(i);
  return 0;
}

bool ValidIfname(const std::string& name) { return !name.empty() && name.size() < IFNAMSIZ && name.find('/') == std::string::npos; }

// linkSet({ ifname, netns?, mac?: Uint8Array(6), mtu?: number, up?: boolean, noarp?: boolean }): RTM_NEWLINK on an existing
// interface. The MAC and MTU are applied before the flags, in the same request.
Napi::Value LinkSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowType(env, "linkSet(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string ifname = StringProp(o, "ifname");
  if (!ValidIfname(ifname)) return ThrowType(env, "linkSet: bad ifname");
  Request req;
  memset(&req, 0, sizeof req);
  req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
  req.hdr.nlmsg_type = RTM_NEWLINK;
  struct ifinfomsg* ifi = static_cast<struct ifinfomsg*>(NLMSG_DATA(&req.hdr));
  ifi->ifi_family = AF_UNSPEC;
  Napi::Value mac = o.Get("mac");
  if (mac.IsTypedArray()) {
    Napi::Uint8Array m = mac.As<Napi::Uint8Array>();
    if (m.ByteLength() != 6) return ThrowType(env, "linkSet: mac must be 6 bytes");
    AddAttr(&req, IFLA_ADDRESS, m.Data(), 6);
  }
  Napi::Value mtu = o.Get("mtu");
  if (mtu.IsNumber()) {
    uint32_t v = mtu.As<Napi::Number>().Uint32Value();
    AddAttr(&req, IFLA_MTU, &v, sizeof v);
  }
  Napi::Value up = o.Get("up");
  if (up.IsBoolean()) {
    ifi->ifi_change |= IFF_UP;
    if (up.As<Napi::Boolean>().Value()) ifi->ifi_flags |= IFF_UP;
  }
  // noarp: IFF_NOARP (`ip link set NAME arp off`), for the host side of a VM's TAP.
  Napi::Value noarp = o.Get("noarp");
  if (noarp.IsBoolean()) {
    ifi->ifi_change |= IFF_NOARP;
    if (noarp.As<Napi::Boolean>().Value()) ifi->ifi_flags |= IFF_NOARP;
  }
  Netns ns(StringProp(o, "netns"));
  if (ns.Error() != 0) return ThrowErrno(env, ns.Error(), ns.FailedCall());
  int index = 0;
  int err = Resolve(ifname, &index);
  if (err != 0) return ThrowErrno(env, err, "if_nametoindex(" + ifname + ")");
  ifi->ifi_index = index;
  err = Talk(&req);
  if (err != 0) return ThrowErrno(env, err, "rtnetlink RTM_NEWLINK(" + ifname + ")");
  return env.Undefined();
}

// linkMove({ ifname, netns?, to }): move the interface into the named namespace `to` (a file in
// /run/netns). Its name stays; it fails with EEXIST if the target already has one of that name.
Napi::Value LinkMove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowType(env, "linkMove(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string ifname = StringProp(o, "ifname");
  std::string to = StringProp(o, "to");
  if (!ValidIfname(ifname)) return ThrowType(env, "linkMove: bad ifname");
  if (to.empty() || to.find('/') != std::string::npos || to == "." || to == "..") return ThrowType(env, "linkMove: bad namespace name");
  std::string path = "/run/netns/" + to;
  int nsfd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) return ThrowErrno(env, errno, "open(" + path + ")");
  Request req;
  memset(&req, 0, sizeof req);
  req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
  req.hdr.nlmsg_type = RTM_NEWLINK;
  struct ifinfomsg* ifi = static_cast<struct ifinfomsg*>(NLMSG_DATA(&req.hdr));
  ifi->ifi_family = AF_UNSPEC;
  uint32_t fdAttr = static_cast<uint32_t>(nsfd);
  AddAttr(&req, IFLA_NET_NS_FD, &fdAttr, sizeof fdAttr);
  int err;
  {
    Netns ns(StringProp(o, "netns"));
    if (ns.Error() != 0) {
      close(nsfd);
      return ThrowErrno(env, ns.Error(), ns.FailedCall());
    }
    int index = 0;
    err = Resolve(ifname, &index);
    if (err != 0) {
      close(nsfd);
      return ThrowErrno(env, err, "if_nametoindex(" + ifname + ")");
    }
    ifi->ifi_index = index;
    err = Talk(&req);
  }
  close(nsfd);
  if (err != 0) return ThrowErrno(env, err, "rtnetlink RTM_NEWLINK(" + ifname + " netns " + to + ")");
  return env.Undefined();
}

// addrAdd({ ifname, netns?, family: 4|6, address: Uint8Array(4|16), prefixLength, nodad?, peer? }):
// RTM_NEWADDR. IPv6 addresses get IFA_F_NODAD when `nodad` is set, so they are usable at once. `peer`
// (same length as address) makes a point-to-point address: IFA_LOCAL is ours, IFA_ADDRESS the peer's.
Napi::Value AddrAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowType(env, "addrAdd(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string ifname = StringProp(o, "ifname");
  if (!ValidIfname(ifname)) return ThrowType(env, "addrAdd: bad ifname");
  int family = o.Get("family").IsNumber() ? o.Get("family").As<Napi::Number>().Int32Value() : 0;
  if (family != 4 && family != 6) return ThrowType(env, "addrAdd: family must be 4 or 6");
  if (!o.Get("address").IsTypedArray()) return ThrowType(env, "addrAdd: address must be a Uint8Array");
  Napi::Uint8Array addr = o.Get("address").As<Napi::Uint8Array>();
  size_t alen = family == 4 ? 4 : 16;
  if (addr.ByteLength() != alen) return ThrowType(env, "addrAdd: address length does not match family");
  int plen = o.Get("prefixLength").IsNumber() ? o.Get("prefixLength").As<Napi::Number>().Int32Value() : -1;
  if (plen < 0 || plen > static_cast<int>(alen * 8)) return ThrowType(env, "addrAdd: bad prefixLength");
  bool nodad = o.Get("nodad").IsBoolean() && o.Get("nodad").As<Napi::Boolean>().Value();
  const uint8_t* peer = addr.Data();
  Napi::Uint8Array peerArray;
  if (o.Has("peer") && !o.Get("peer").IsUndefined()) {
    if (!o.Get("peer").IsTypedArray()) return ThrowType(env, "addrAdd: peer must be a Uint8Array");
    peerArray = o.Get("peer").As<Napi::Uint8Array>();
    if (peerArray.ByteLength() != alen) return ThrowType(env, "addrAdd: peer length does not match family");
    peer = peerArray.Data();
  }

  Request req;
  memset(&req, 0, sizeof req);
  req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
  req.hdr.nlmsg_type = RTM_NEWADDR;
  req.hdr.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  struct ifaddrmsg* ifa = static_cast<struct ifaddrmsg*>(NLMSG_DATA(&req.hdr));
  ifa->ifa_family = family == 4 ? AF_INET : AF_INET6;
  ifa->ifa_prefixlen = plen;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  AddAttr(&req, IFA_LOCAL, addr.Data(), alen);
  AddAttr(&req, IFA_ADDRESS, peer, alen);
  if (nodad && family == 6) {
    uint32_t flags = IFA_F_NODAD;
    AddAttr(&req, IFA_FLAGS, &flags, sizeof flags);
  }
  Netns ns(StringProp(o, "netns"));
  if (ns.Error() != 0) return ThrowErrno(env, ns.Error(), ns.FailedCall());
  int index = 0;
  int err = Resolve(ifname, &index);
  if (err != 0) return ThrowErrno(env, err, "if_nametoindex(" + ifname + ")");
  ifa->ifa_index = index;
  err = Talk(&req);
  if (err != 0) return ThrowErrno(env, err, "rtnetlink RTM_NEWADDR(" + ifname + ")");
  return env.Undefined();
}

// routeAdd({ ifname, netns?, family: 4|6, destination: Uint8Array(4|16), prefixLength, gateway? }):
// RTM_NEWROUTE in the main table, out of `ifname` (scope link without a gateway), protocol static.
Napi::Value RouteAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowType(env, "routeAdd(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string ifname = StringProp(o, "ifname");
  if (!ValidIfname(ifname)) return ThrowType(env, "routeAdd: bad ifname");
  int family = o.Get("family").IsNumber() ? o.Get("family").As<Napi::Number>().Int32Value() : 0;
  if (family != 4 && family != 6) return ThrowType(env, "routeAdd: family must be 4 or 6");
  size_t alen = family == 4 ? 4 : 16;
  if (!o.Get("destination").IsTypedArray()) return ThrowType(env, "routeAdd: destination must be a Uint8Array");
  Napi::Uint8Array dst = o.Get("destination").As<Napi::Uint8Array>();
  if (dst.ByteLength() != alen) return ThrowType(env, "routeAdd: destination length does not match family");
  int plen = o.Get("prefixLength").IsNumber() ? o.Get("prefixLength").As<Napi::Number>().Int32Value() : -1;
  if (plen < 0 || plen > static_cast<int>(alen * 8)) return ThrowType(env, "routeAdd: bad prefixLength");
  Napi::Uint8Array gw;
  bool hasGateway = o.Has("gateway") && !o.Get("gateway").IsUndefined();
  if (hasGateway) {
    if (!o.Get("gateway").IsTypedArray()) return ThrowType(env, "routeAdd: gateway must be a Uint8Array");
    gw = o.Get("gateway").As<Napi::Uint8Array>();
    if (gw.ByteLength() != alen) return ThrowType(env, "routeAdd: gateway length does not match family");
  }

  Request req;
  memset(&req, 0, sizeof req);
  req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
  req.hdr.nlmsg_type = RTM_NEWROUTE;
  req.hdr.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  struct rtmsg* rtm = static_cast<struct rtmsg*>(NLMSG_DATA(&req.hdr));
  rtm->rtm_family = family == 4 ? AF_INET : AF_INET6;
  rtm->rtm_dst_len = plen;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = hasGateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  AddAttr(&req, RTA_DST, dst.Data(), alen);
  if (hasGateway) AddAttr(&req, RTA_GATEWAY, gw.Data(), alen);
  Netns ns(StringProp(o, "netns"));
  if (ns.Error() != 0) return ThrowErrno(env, ns.Error(), ns.FailedCall());
  int index = 0;
  int err = Resolve(ifname, &index);
  if (err != 0) return ThrowErrno(env, err, "if_nametoindex(" + ifname + ")");
  uint32_t oif = static_cast<uint32_t>(index);
  AddAttr(&req, RTA_OIF, &oif, sizeof oif);
  err = Talk(&req);
  if (err != 0) return ThrowErrno(env, err, "rtnetlink RTM_NEWROUTE(" + ifname + ")");
  return env.Undefined();
}

// linkDel({ ifname, netns? }): RTM_DELLINK, for devices that outlive their fd (persistent TAPs).
Napi::Value LinkDel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowType(env, "linkDel(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string ifname = StringProp(o, "ifname");
  if (!ValidIfname(ifname)) return ThrowType(env, "linkDel: bad ifname");
  Request req;
  memset(&req, 0, sizeof req);
  req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
  req.hdr.nlmsg_type = RTM_DELLINK;
  struct ifinfomsg* ifi = static_cast<struct ifinfomsg*>(NLMSG_DATA(&req.hdr));
  ifi->ifi_family = AF_UNSPEC;
  Netns ns(StringProp(o, "netns"));
  if (ns.Error() != 0) return ThrowErrno(env, ns.Error(), ns.FailedCall());
  int index = 0;
  int err = Resolve(ifname, &index);
  if (err != 0) return ThrowErrno(env, err, "if_nametoindex(" + ifname + ")");
  ifi->ifi_index = index;
  err = Talk(&req);
  if (err != 0) return ThrowErrno(env, err, "rtnetlink RTM_DELLINK(" + ifname + ")");
  return env.Undefined();
}

// linkIndex({ ifname, netns? }) -> the ifindex, or throws ENODEV.
Napi::Value LinkIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowType(env, "linkIndex(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string ifname = StringProp(o, "ifname");
  if (!ValidIfname(ifname)) return ThrowType(env, "linkIndex: bad ifname");
  Netns ns(StringProp(o, "netns"));
  if (ns.Error() != 0) return ThrowErrno(env, ns.Error(), ns.FailedCall());
  int index = 0;
  int err = Resolve(ifname, &index);
  if (err != 0) return ThrowErrno(env, err, "if_nametoindex(" + ifname + ")");
  return Napi::Number::New(env, index);
}

}  // namespace

Napi::Object InitNetlink(Napi::Env env, Napi::Object exports) {
  exports.Set("linkSet", Napi::Function::New(env, LinkSet, "linkSet"));
  exports.Set("linkMove", Napi::Function::New(env, LinkMove, "linkMove"));
  exports.Set("linkDel", Napi::Function::New(env, LinkDel, "linkDel"));
  exports.Set("linkIndex", Napi::Function::New(env, LinkIndex, "linkIndex"));
  exports.Set("addrAdd", Napi::Function::New(env, AddrAdd, "addrAdd"));
  exports.Set("routeAdd", Napi::Function::New(env, RouteAdd, "routeAdd"));
  return exports;
}

}  // namespace tw
