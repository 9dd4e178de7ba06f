#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

namespace tw {

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  if (name != nullptr) return name;
  return "E" + std::to_string(err);
}

Napi::Value ThrowErrno(Napi::Env env, int err, const std::string& syscall) {
  std::string message = syscall + ": " + strerror(err) + " (" + ErrnoName(err) + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowType(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

Netns::Netns(const std::string& name) {
  if (name.empty()) return;
  if (name.find('/') != std::string::npos || name == "." || name == "..") {
    err_ = EINVAL;
    call_ = "netns name";
    return;
  }
  orig_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (orig_ < 0) {
    err_ = errno;
    call_ = "open(/proc/thread-self/ns/net)";
    return;
  }
  std::string path = "/run/netns/" + name;
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    err_ = errno;
    call_ = "open(/run/netns/<name>)";
    close(orig_);
    orig_ = -1;
    return;
  }
  if (setns(target, CLONE_NEWNET) < 0) {
    err_ = errno;
    call_ = "setns";
    close(orig_);
    orig_ = -1;
  }
  close(target);
}

Netns::~Netns() {
  if (orig_ < 0) return;
  // Returning to the namespace we came from cannot fail short of a kernel bug; if it ever did, this
  // thread would keep working in the wrong namespace, which is worse than stopping.
  if (setns(orig_, CLONE_NEWNET) < 0) abort();
  close(orig_);
}

}  // namespace tw
