{
  "targets": [
    {
      "target_name": "tapwire",
      "sources": ["native/addon.cc", "native/tuntap.cc", "native/netlink.cc", "native/ioloop.cc", "native/errors.cc", "native/uring.cc", "native/packet.cc", "native/fdpass.cc", "native/dgram.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
