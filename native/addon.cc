// Entry of the tapwire addon: src/native/index.ts is its only importer.
#include "common.h"

namespace tw {
// InitFdPass (native/fdpass.cc): SCM_RIGHTS fd passing and peer credentials for `vm` ports.
Napi::Object InitFdPass(Napi::Env env, Napi::Object exports);
// InitDgram (native/dgram.cc): AF_UNIX datagram sockets for `socket` ports in `dgram` mode.
Napi::Object InitDgram(Napi::Env env, Napi::Object exports);
}  // namespace tw

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tw::InitTunTap(env, exports);
  tw::InitNetlink(env, exports);
  tw::InitIoLoop(env, exports);
  tw::InitPacket(env, exports);
  tw::InitFdPass(env, exports);
  tw::InitDgram(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tapwire, Init)
