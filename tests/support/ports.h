#pragma once
// A loopback port for a process a test starts (a daemon, `orderly sim`, PostgreSQL), free when
// picked. It is let go before that process binds it, so it is picked below the kernel's
// ephemeral range: there the kernel hands it to no client connection meanwhile (CI: "cannot
// listen on 127.0.0.1:41381: Address already in use", a port the kernel had handed out itself,
// taken by another test's connection before the daemon bound it). Only another test picking the
// same port at random in the same moment can still take it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <random>

namespace orderly::testing {

// Whether `port` (0: any) can be bound on loopback now; the port bound in `*bound`.
inline bool bind_loopback(std::uint16_t port, std::uint16_t* bound) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (ok) *bound = ntohs(addr.sin_port);
  return ok;
}

inline std::uint16_t free_port() {
  int ephemeral_low = 32768;  // Linux's default when the range cannot be read
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  constexpr int kLowest = 10000;
  std::uint16_t port = 0;
  if (ephemeral_low > kLowest + 1000) {
    std::mt19937 pick(std::random_device{}());
    std::uniform_int_distribution<int> below(kLowest, ephemeral_low - 1);
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (bind_loopback(static_cast<std::uint16_t>(below(pick)), &port)) return port;
    }
  }
  return bind_loopback(0, &port) ? port : 0;  // the kernel's pick, as a last resort
}

}  // namespace orderly::testing
