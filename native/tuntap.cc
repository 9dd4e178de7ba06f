// TUN/TAP devices: open /dev/net/tun, attach an interface with TUNSETIFF, and set the vnet header,
// offloads, persistence and ownership. The order matters and is kept in openTun():
//   open(O_RDWR|O_NONBLOCK|O_CLOEXEC) -> TUNSETIFF -> TUNSETVNETHDRSZ -> TUNSETOFFLOAD
// and only then is the fd handed to the poller (IoLoop.add).
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

namespace tw {
namespace {

constexpr unsigned kOffloadBase = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
constexpr unsigned kOffloadUso = TUN_F_USO4 | TUN_F_USO6;

// openTun({ name, mode: "tap"|"tun", vnetHdrSize?: number, offload?: boolean, multiQueue?: boolean,
//          exclusive?: boolean })
//   -> { fd, name, offloads }
// `name` may be empty to let the kernel choose; `vnetHdrSize` 0 opens without IFF_VNET_HDR. With
// `offload`, TUNSETOFFLOAD asks for checksum, TSO4/6, TSO_ECN and USO4/6, and retries without USO on a
// kernel that does not know it (EINVAL); `offloads` reports the TUN_F_* bits that took effect.
Napi::Value OpenTun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowType(env, "openTun(options) needs an object");
  Napi::Object opts = info[0].As<Napi::Object>();
  std::string name = opts.Has("name") && opts.Get("name").IsString() ? opts.Get("name").As<Napi::String>().Utf8Value() : "";
  std::string mode = opts.Get("mode").IsString() ? opts.Get("mode").As<Napi::String>().Utf8Value() : "tap";
  int hdrSize = opts.Get("vnetHdrSize").IsNumber() ? opts.Get("vnetHdrSize").As<Napi::Number>().Int32Value() : 12;
  bool offload = opts.Get("offload").IsBoolean() ? opts.Get("offload").As<Napi::Boolean>().Value() : true;
  bool multiQueue = opts.Get("multiQueue").IsBoolean() && opts.Get("multiQueue").As<Napi::Boolean>().Value();
  bool exclusive = opts.Get("exclusive").IsBoolean() && opts.Get("exclusive").As<Napi::Boolean>().Value();
  if (name.size() >= IFNAMSIZ) return ThrowType(env, "interface name longer than 15 bytes");
  if (mode != "tap" && mode != "tun") return ThrowType(env, "mode must be \"tap\" or \"tun\"");
  if (hdrSize != 0 && hdrSize != 10 && hdrSize != 12) return ThrowType(env, "vnetHdrSize must be 0, 10 or 12");

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, errno, "open(/dev/net/tun)");

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = (mode == "tap" ? IFF_TAP : IFF_TUN) | IFF_NO_PI;
  if (hdrSize != 0) ifr.ifr_flags |= IFF_VNET_HDR;
  if (multiQueue) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  // IFF_TUN_EXCL: fail with EBUSY instead of attaching to an existing (persistent) device of that name.
  if (exclusive) ifr.ifr_flags |= IFF_TUN_EXCL;
  memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, err, "ioctl(TUNSETIFF)");
  }
  if (hdrSize != 0 && ioctl(fd, TUNSETVNETHDRSZ, &hdrSize) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, err, "ioctl(TUNSETVNETHDRSZ)");
  }
  unsigned offloads = 0;
  if (hdrSize != 0 && offload) {
    offloads = kOffloadBase | kOffloadUso;
    if (ioctl(fd, TUNSETOFFLOAD, offloads) < 0) {
      offloads = kOffloadBase;
      if (errno != EINVAL || ioctl(fd, TUNSETOFFLOAD, offloads) < 0) {
        int err = errno;
        close(fd);
        return ThrowErrno(env, err, "ioctl(TUNSETOFFLOAD)");
      }
    }
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", fd);
  result.Set("name", Napi::String::New(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ)));
  result.Set("offloads", offloads);
  return result;
}

int FdArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return -1;
  return info[0].As<Napi::Number>().Int32Value();
}

// setPersist(fd, on): TUNSETPERSIST. A persistent device outlives its fd (needed for `vm` ports).
Napi::Value SetPersist(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info);
  if (fd < 0 || info.Length() < 2 || !info[1].IsBoolean()) return ThrowType(env, "setPersist(fd, boolean)");
  if (ioctl(fd, TUNSETPERSIST, info[1].As<Napi::Boolean>().Value() ? 1UL : 0UL) < 0)
    return ThrowErrno(env, errno, "ioctl(TUNSETPERSIST)");
  return env.Undefined();
}

// setOwner(fd, uid) / setGroup(fd, gid): who, besides CAP_NET_ADMIN, may attach to the device.
Napi::Value SetOwnerOrGroup(const Napi::CallbackInfo& info, unsigned long request, const char* call) {
  Napi::Env env = info.Env();
  int fd = FdArg(info);
  if (fd < 0 || info.Length() < 2 || !info[1].IsNumber()) return ThrowType(env, std::string(call) + "(fd, id)");
  long id = info[1].As<Napi::Number>().Int64Value();
  if (id < 0 || id > 0xfffffffeL) return ThrowType(env, "id out of range");
  if (ioctl(fd, request, static_cast<unsigned long>(id)) < 0) return ThrowErrno(env, errno, std::string("ioctl(") + call + ")");
  return env.Undefined();
}
Napi::Value SetOwner(const Napi::CallbackInfo& info) { return SetOwnerOrGroup(info, TUNSETOWNER, "TUNSETOWNER"); }
Napi::Value SetGroup(const Napi::CallbackInfo& info) { return SetOwnerOrGroup(info, TUNSETGROUP, "TUNSETGROUP"); }

// closeFd(fd): close a device fd that is not (or no longer) registered with an IoLoop.
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info);
  if (fd < 0) return ThrowType(env, "closeFd(fd)");
  if (close(fd) < 0 && errno != EINTR) return ThrowErrno(env, errno, "close");
  return env.Undefined();
}

}  // namespace

Napi::Object InitTunTap(Napi::Env env, Napi::Object exports) {
  exports.Set("openTun", Napi::Function::New(env, OpenTun, "openTun"));
  exports.Set("setPersist", Napi::Function::New(env, SetPersist, "setPersist"));
  exports.Set("setOwner", Napi::Function::New(env, SetOwner, "setOwner"));
  exports.Set("setGroup", Napi::Function::New(env, SetGroup, "setGroup"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  Napi::Object flags = Napi::Object::New(env);
  flags.Set("CSUM", TUN_F_CSUM);
  flags.Set("TSO4", TUN_F_TSO4);
  flags.Set("TSO6", TUN_F_TSO6);
  flags.Set("TSO_ECN", TUN_F_TSO_ECN);
  flags.Set("USO4", TUN_F_USO4);
  flags.Set("USO6", TUN_F_USO6);
  exports.Set("offloadFlags", flags);
  return exports;
}

}  // namespace tw
