// The CLI's HTTP client gives up after its timeout on a peer that takes the connection and
// never answers (a wedged daemon, or a process that inherited the listening socket).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/api_client.h"

namespace orderly::app {
namespace {

TEST(ApiClient, SilentPeerTimesOut) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // the kernel completes the handshake; nobody ever reads
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ApiEndpoint e;
  e.port = ntohs(addr.sin_port);
  e.timeout_ms = 300;
  auto r = api_call(e, "GET", "/healthz");
  ::close(fd);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::unavailable);
  EXPECT_NE(r.status().message().find("no answer"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace orderly::app
