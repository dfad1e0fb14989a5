#include "probes/binding.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "probes/socket.h"

namespace linewatch {
namespace {

Fd udp_socket(int family) { return Fd(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)); }

// 198.18.0.0/15 is the benchmarking range: not assigned on this host, so a
// bind to it fails with EADDRNOTAVAIL and nothing is ever sent.
const char* const kAbsentSource = "198.18.255.254";

TEST_CASE("a source address the host does not have is an error naming the source") {
  Fd fd = udp_socket(AF_INET);
  REQUIRE(fd.valid());
  Status s = apply_binding(fd.get(), AF_INET, LineBinding{kAbsentSource, "", std::nullopt});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message == "source 198.18.255.254: Cannot assign requested address");
}

TEST_CASE("an interface that does not exist is an error naming the interface") {
  Fd fd = udp_socket(AF_INET);
  REQUIRE(fd.valid());
  Status s = apply_binding(fd.get(), AF_INET, LineBinding{"", "lwnosuch0", std::nullopt});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message == "interface lwnosuch0: No such device");
}

TEST_CASE("a source of the other address family is an error naming the source") {
  Fd fd = udp_socket(AF_INET);
  REQUIRE(fd.valid());
  Status s = apply_binding(fd.get(), AF_INET, LineBinding{"::1", "", std::nullopt});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message.rfind("source ::1: ", 0) == 0);
  Status junk = apply_binding(fd.get(), AF_INET, LineBinding{"not-an-address", "", std::nullopt});
  REQUIRE_FALSE(junk.ok());
  CHECK(junk.error().message.rfind("source not-an-address: ", 0) == 0);
}

TEST_CASE("binding to 127.0.0.1 binds the socket there") {
  Fd fd = udp_socket(AF_INET);
  REQUIRE(fd.valid());
  REQUIRE(apply_binding(fd.get(), AF_INET, LineBinding{"127.0.0.1", "", std::nullopt}).ok());
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) == 0);
  CHECK(local.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  CHECK(local.sin_port != 0);  // port 0 asked the kernel for an ephemeral one
}

TEST_CASE("binding to ::1 binds an IPv6 socket there") {
  Fd fd = udp_socket(AF_INET6);
  REQUIRE(fd.valid());
  REQUIRE(apply_binding(fd.get(), AF_INET6, LineBinding{"::1", "", std::nullopt}).ok());
  sockaddr_in6 local{};
  socklen_t len = sizeof(local);
  REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) == 0);
  CHECK(std::memcmp(&local.sin6_addr, &in6addr_loopback, sizeof(in6_addr)) == 0);
}

TEST_CASE("interface and fwmark are set on the socket (as root)") {
  Fd fd = udp_socket(AF_INET);
  REQUIRE(fd.valid());
  REQUIRE(apply_binding(fd.get(), AF_INET, LineBinding{"", "lo", 7u}).ok());
  unsigned int mark = 0;
  socklen_t len = sizeof(mark);
  REQUIRE(::getsockopt(fd.get(), SOL_SOCKET, SO_MARK, &mark, &len) == 0);
  CHECK(mark == 7u);
  char device[IFNAMSIZ] = {};
  len = sizeof(device);
  REQUIRE(::getsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, device, &len) == 0);
  CHECK(std::string(device) == "lo");
}

TEST_CASE("binding_family follows the source address") {
  CHECK(binding_family(LineBinding{"", "eth1", 3u}) == AF_UNSPEC);
  CHECK(binding_family(LineBinding{"198.18.1.1", "", std::nullopt}) == AF_INET);
  CHECK(binding_family(LineBinding{"2001:db8::1", "", std::nullopt}) == AF_INET6);
  CHECK(binding_family(LineBinding{"eth1", "", std::nullopt}) == AF_UNSPEC);
}

}  // namespace
}  // namespace linewatch
