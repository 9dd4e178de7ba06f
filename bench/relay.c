// relay: the benchmark's reference floor for a userspace switch on TAPs. It creates TAPs the way tapwired
// does (IFF_VNET_HDR with a 12-byte header, checksum and TSO offloads, non-blocking) and copies every
// frame from TAP 2k to TAP 2k+1 and back with poll(), read() and write(): no learning, no checks, no
// batching beyond draining a readable TAP. What it measures is what the kernel, the TAP devices and the
// wake-ups cost any process in the middle, so the distance from it to tapwired is what tapwired's own
// design costs.
//
// usage: relay MAX_SECONDS TAP0 TAP1 [TAP2 TAP3 ...]   (an even number of names, at most 8)
// Prints "ready" once every TAP exists; exits after MAX_SECONDS or on SIGTERM/SIGINT.
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_TAPS 8
#define FRAME_MAX (65536 + 12 + 512)
#define DRAIN_MAX 64

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static int open_tap(const char* name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct ifreq req;
  memset(&req, 0, sizeof req);
  req.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (strlen(name) >= IFNAMSIZ) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(req.ifr_name, name, strlen(name));
  int hdr = 12;
  if (ioctl(fd, TUNSETIFF, &req) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
      ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

int main(int argc, char** argv) {
  if (argc < 4 || (argc - 2) % 2 != 0 || argc - 2 > MAX_TAPS) {
    fprintf(stderr, "usage: relay MAX_SECONDS TAP0 TAP1 [TAP2 TAP3 ...] (pairs, at most %d TAPs)\n", MAX_TAPS);
    return 2;
  }
  long seconds = strtol(argv[1], NULL, 10);
  if (seconds < 1 || seconds > 86400) {
    fprintf(stderr, "relay: MAX_SECONDS must be 1..86400\n");
    return 2;
  }
  int n = argc - 2;
  struct pollfd fds[MAX_TAPS];
  for (int i = 0; i < n; i++) {
    fds[i].fd = open_tap(argv[i + 2]);
    fds[i].events = POLLIN;
    if (fds[i].fd < 0) {
      fprintf(stderr, "relay: TAP %s: %s\n", argv[i + 2], strerror(errno));
      return 1;
    }
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  printf("ready\n");
  fflush(stdout);

  static unsigned char frame[FRAME_MAX];
  time_t deadline = time(NULL) + seconds;
  while (!stop && time(NULL) < deadline) {
    int ready = poll(fds, n, 1000);
    if (ready < 0 && errno != EINTR) {
      perror("relay: poll");
      return 1;
    }
    for (int i = 0; ready > 0 && i < n; i++) {
      if ((fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
        fprintf(stderr, "relay: TAP %s failed\n", argv[i + 2]);
        return 1;
      }
      if ((fds[i].revents & POLLIN) == 0) continue;
      int peer = fds[i ^ 1].fd;
      for (int k = 0; k < DRAIN_MAX; k++) {
        ssize_t len = read(fds[i].fd, frame, sizeof frame);
        if (len < 0 && errno == EINTR) continue;
        if (len <= 0) break;
        // A write to a TAP whose link is down fails (EIO): the frame is lost, as on a switch.
        while (write(peer, frame, (size_t)len) < 0 && errno == EINTR) {
        }
      }
    }
  }
  return 0;
}
