#include "probes/iface_counters.h"

#include <doctest/doctest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "core/fd.h"
#include "probes/netns_test_support.h"
#include "probes/socket.h"

namespace linewatch {
namespace {

constexpr int kDatagrams = 64;
constexpr std::size_t kPayload = 1000;

// Sends kDatagrams of kPayload bytes from an unbound UDP socket to `host`:`port`.
// Returns how many the kernel accepted. CHECK, not REQUIRE: also used on
// threads, where a thrown REQUIRE would end the binary.
int send_datagrams(const char* host, std::uint16_t port) {
  SocketAddress to;
  CHECK(parse_numeric_address(host, port, to));
  Fd fd(::socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  CHECK(fd.valid());
  const std::string payload(kPayload, 'x');
  int sent = 0;
  for (int i = 0; i < kDatagrams; ++i)
    if (::sendto(fd.get(), payload.data(), payload.size(), 0, to.get(), to.length) ==
        static_cast<ssize_t>(payload.size()))
      ++sent;
  return sent;
}

// Runs `body` on a thread inside a fresh network namespace, after `setup`
// (shell commands run by a child of that thread, so in the namespace).
// Returns "" or what failed during setup. The namespace, and every interface,
// address, route and rule in it, goes away when the thread ends.
std::string in_namespace(const std::string& setup, const std::function<void()>& body) {
  std::string failure;
  std::thread([&] {
    failure = testing::enter_private_namespace();
    if (failure.empty() && !setup.empty() && std::system(setup.c_str()) != 0)
      failure = "setup failed: " + setup;
    if (failure.empty()) body();
  }).join();
  return failure;
}

// The error's message, or "" on success (a _MESSAGE argument is evaluated
// even when the assertion holds).
template <class T>
std::string why(const Result<T>& r) {
  return r.ok() ? "" : r.error().message;
}

bool skip_unless_root() {
  if (::geteuid() == 0) return false;
  MESSAGE("skipped: network namespaces need root");
  return true;
}

TEST_CASE("lo's counters grow by at least the bytes sent over it") {
  auto before = read_interface_counters("lo");
  REQUIRE_MESSAGE(before.ok(), why(before));
  CHECK(before->name == "lo");
  CHECK(before->ifindex == static_cast<int>(::if_nametoindex("lo")));

  Fd receiver(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  SocketAddress local;
  REQUIRE(parse_numeric_address("127.0.0.1", 0, local));
  REQUIRE(::bind(receiver.get(), local.get(), local.length) == 0);
  REQUIRE(::getsockname(receiver.get(), reinterpret_cast<sockaddr*>(&local.storage),
                        &local.length) == 0);
  const auto port = ntohs(reinterpret_cast<const sockaddr_in*>(local.get())->sin_port);
  REQUIRE(send_datagrams("127.0.0.1", port) == kDatagrams);

  auto after = read_interface_counters("lo");
  REQUIRE(after.ok());
  CHECK(after->ifindex == before->ifindex);
  // Other traffic on lo can only add; headers add too. Loopback counts each
  // datagram once sent and once received.
  const std::uint64_t bytes = kDatagrams * kPayload;
  CHECK(after->tx_bytes - before->tx_bytes >= bytes);
  CHECK(after->rx_bytes - before->rx_bytes >= bytes);
  CHECK(after->tx_packets - before->tx_packets >= static_cast<std::uint64_t>(kDatagrams));
  CHECK(after->rx_packets - before->rx_packets >= static_cast<std::uint64_t>(kDatagrams));
}

TEST_CASE("an interface that does not exist is not_found, the sign of a vanished line") {
  auto r = read_interface_counters("lwnosuch0");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::not_found);
  CHECK(r.error().message == "interface lwnosuch0: No such device");
}

TEST_CASE("a name that cannot be an interface's is invalid, not vanished") {
  for (const std::string& name : {std::string(), std::string(IFNAMSIZ, 'a')}) {
    auto r = read_interface_counters(name);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::invalid_argument);
  }
}

TEST_CASE("a veth interface is read, reported gone when deleted, and new when re-created") {
  if (skip_unless_root()) return;
  int first_index = 0;
  // A veth pair, as the kernel here has no dummy driver. The permanent
  // neighbour lets datagrams leave lwd0 with no ARP; lwd1 drops them.
  const std::string setup =
      "ip link add lwd0 type veth peer name lwd1 && ip addr add 198.18.20.1/24 dev lwd0 && "
      "ip link set lwd1 up && ip link set lwd0 up && "
      "ip neigh add 198.18.20.5 lladdr 02:00:00:00:00:05 dev lwd0 nud permanent";
  const std::string failure = in_namespace(setup, [&] {
    auto before = read_interface_counters("lwd0");
    if (!before.ok()) {
      FAIL_CHECK(before.error().message);
      return;
    }
    first_index = before->ifindex;
    CHECK(first_index == static_cast<int>(::if_nametoindex("lwd0")));
    CHECK(send_datagrams("198.18.20.5", 9) == kDatagrams);
    auto after = read_interface_counters("lwd0");
    CHECK(after.ok());
    if (!after.ok()) return;
    CHECK(after->tx_bytes - before->tx_bytes >= kDatagrams * kPayload);
    CHECK(after->tx_packets - before->tx_packets >= static_cast<std::uint64_t>(kDatagrams));

    CHECK(std::system("ip link del lwd0") == 0);
    auto gone = read_interface_counters("lwd0");
    CHECK_FALSE(gone.ok());
    if (!gone.ok()) CHECK(gone.error().code == ErrorCode::not_found);

    CHECK(std::system("ip link add lwd0 type veth peer name lwd1") == 0);
    auto again = read_interface_counters("lwd0");
    CHECK(again.ok());
    if (!again.ok()) return;
    CHECK(again->ifindex != first_index);
    CHECK(again->tx_bytes < after->tx_bytes);  // a new device counts from zero
  });
  REQUIRE(failure == "");
  CHECK(first_index > 0);
  // The reader follows the reading thread's namespace: the device is not here.
  auto here = read_interface_counters("lwd0");
  REQUIRE_FALSE(here.ok());
  CHECK(here.error().code == ErrorCode::not_found);
}

TEST_CASE("the interface towards a loopback gateway is lo") {
  auto r = interface_towards("127.0.0.1", {});
  REQUIRE_MESSAGE(r.ok(), why(r));
  CHECK(*r == "lo");
}

TEST_CASE("a gateway that is not an address literal is invalid") {
  auto r = interface_towards("gw.example", {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(r.error().message == "gateway gw.example: not an IPv4 or IPv6 address");
  auto link_local = interface_towards("fe80::1", {});
  REQUIRE_FALSE(link_local.ok());
  CHECK(link_local.error().code == ErrorCode::invalid_argument);
}

// Two lines: lwa0 towards gateway 198.18.21.2, lwb0 towards 198.18.22.2.
// 198.18.30.1 is a gateway reachable on both: by lwa0 in the main table, by
// lwb0 in table 100, which fwmark 7 and source 198.18.22.1 select.
const char* const kTwoLines =
    "ip link add lwa0 type veth peer name lwa1 && ip link add lwb0 type veth peer name lwb1 && "
    "ip addr add 198.18.21.1/24 dev lwa0 && ip addr add 198.18.22.1/24 dev lwb0 && "
    "ip link set lwa1 up && ip link set lwb1 up && ip link set lwa0 up && ip link set lwb0 up && "
    "ip route add 198.18.30.1/32 dev lwa0 && ip route add 198.18.30.1/32 dev lwb0 table 100 && "
    "ip rule add fwmark 7 lookup 100 && ip rule add from 198.18.22.1 lookup 100";

std::string towards(const std::string& gateway, const LineBinding& binding) {
  auto r = interface_towards(gateway, binding);
  return r.ok() ? *r : "error: " + r.error().message;
}

TEST_CASE("interface_towards picks each line's device, by route, fwmark and source") {
  if (skip_unless_root()) return;
  const std::string failure = in_namespace(kTwoLines, [] {
    CHECK(towards("198.18.21.2", {}) == "lwa0");
    CHECK(towards("198.18.22.2", {}) == "lwb0");
    CHECK(towards("198.18.30.1", {}) == "lwa0");
    CHECK(towards("198.18.30.1", LineBinding{"", "", 7u}) == "lwb0");
    CHECK(towards("198.18.30.1", LineBinding{"198.18.22.1", "", std::nullopt}) == "lwb0");
    CHECK(towards("198.18.30.1", LineBinding{"", "lwb0", std::nullopt}) == "lwb0");
  });
  REQUIRE(failure == "");
}

TEST_CASE("interface_towards says when the device cannot be told") {
  if (skip_unless_root()) return;
  const std::string setup = std::string(kTwoLines) +
                            " && ip addr add 198.18.40.1/32 dev lo && "
                            "ip route add 198.18.41.0/24 dev lwa0 src 198.18.40.1 && "
                            "ip addr add 198.18.50.1/24 dev lwa0 && "
                            "ip addr add 198.18.50.1/32 dev lwb0";
  const std::string failure = in_namespace(setup, [] {
    CHECK(towards("198.18.99.1", {}) == "error: gateway 198.18.99.1: Network is unreachable");
    CHECK(towards("198.18.41.1", {}) ==
          "error: gateway 198.18.41.1: source 198.18.40.1 is on loopback lo, not the device "
          "the route leaves by; set lines[].counters");
    CHECK(towards("198.18.50.2", {}) ==
          "error: gateway 198.18.50.2: source 198.18.50.1 is on several interfaces (lwa0, "
          "lwb0); set lines[].counters");
    CHECK(towards("198.18.21.2", LineBinding{"198.18.9.9", "", std::nullopt}) ==
          "error: gateway 198.18.21.2: source 198.18.9.9: Cannot assign requested address");
  });
  REQUIRE(failure == "");
}

}  // namespace
}  // namespace linewatch
