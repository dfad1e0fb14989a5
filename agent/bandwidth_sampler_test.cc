// The sampler on real interfaces: lo carries datagrams the test sends over
// 127.0.0.1; an interface that does not exist shows as vanished with the
// kernel's message; a line with nothing to read says how to fix it.
#include "agent/bandwidth_sampler.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <mutex>
#include <thread>

#include "core/fd.h"
#include "probes/socket.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;

// Every reading the consumer was handed, in order.
struct Collected {
  std::mutex mutex;
  std::vector<std::pair<std::string, BandwidthReading>> readings;

  BandwidthConsumer consumer() {
    return [this](const std::string& line, const BandwidthReading& r) {
      std::lock_guard lock(mutex);
      readings.emplace_back(line, r);
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return readings.size();
  }
};

LineSpec line(std::string id, std::string counters) {
  LineSpec l;
  l.id = std::move(id);
  l.binding.source = "127.0.0.1";
  l.counters = std::move(counters);
  return l;
}

BandwidthSamplerOptions fast() {
  BandwidthSamplerOptions o;
  o.period = 100ms;
  return o;
}

// Polls `done` every 20 ms, running `between` each time, for at most `limit`.
template <class Done, class Between>
bool poll(Duration limit, Done done, Between between) {
  for (auto left = limit; left > Duration::zero(); left -= 20ms) {
    if (done()) return true;
    between();
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

// A UDP receiver on 127.0.0.1 and a sender to it: both directions of lo move.
class LoopTraffic {
 public:
  LoopTraffic() : rx_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {
    REQUIRE(parse_numeric_address("127.0.0.1", 0, to_));
    REQUIRE(::bind(rx_.get(), to_.get(), to_.length) == 0);
    REQUIRE(::getsockname(rx_.get(), reinterpret_cast<sockaddr*>(&to_.storage), &to_.length) == 0);
  }
  void send_some() {
    const std::string payload(1000, 'x');
    for (int i = 0; i < 16; ++i)
      ::sendto(tx_.get(), payload.data(), payload.size(), 0, to_.get(), to_.length);
    char buf[1500];
    while (::recv(rx_.get(), buf, sizeof buf, 0) > 0) {
    }
  }

 private:
  Fd rx_;
  Fd tx_{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  SocketAddress to_;
};

TEST_CASE("bandwidth sampler: bytes sent over lo give rx and tx rates and a utilisation") {
  const SystemClock clock;
  Collected got;
  LineSpec lo = line("lo", "lo");
  lo.capacity_bps = 1'000'000'000;
  LoopTraffic traffic;
  BandwidthSampler sampler({lo}, clock, got.consumer(), fast());

  auto measured = [&] {
    const LineBandwidth l = sampler.snapshot().at(0);
    return l.reading.state == CounterState::measuring && l.reading.rx_bps > 0.0 &&
           l.reading.tx_bps > 0.0;
  };
  REQUIRE(poll(3s, measured, [&] { traffic.send_some(); }));
  sampler.stop();

  const LineBandwidth l = sampler.snapshot().at(0);
  CHECK(l.line == "lo");
  CHECK(l.interface == "lo");
  CHECK(l.from == CountersFrom::counters);
  CHECK(l.detail.empty());
  REQUIRE(l.reading.utilisation.has_value());
  CHECK(*l.reading.utilisation ==
        doctest::Approx(std::max(*l.reading.rx_bps, *l.reading.tx_bps) / 1e9));

  // The consumer saw every rate: the last one it got is the snapshot's.
  std::lock_guard lock(got.mutex);
  REQUIRE_FALSE(got.readings.empty());
  CHECK(got.readings.back().first == "lo");
  CHECK(got.readings.back().second.rx_bps == l.reading.rx_bps);
  for (const auto& [name, r] : got.readings) CHECK(r.state == CounterState::measuring);
}

TEST_CASE("bandwidth sampler: an interface that does not exist is vanished, with its name") {
  const SystemClock clock;
  Collected got;
  BandwidthSampler sampler({line("gone", "lwnope0")}, clock, got.consumer(), fast());
  auto vanished = [&] { return sampler.snapshot().at(0).reading.state == CounterState::vanished; };
  REQUIRE(poll(3s, vanished, [] {}));
  sampler.stop();

  const LineBandwidth l = sampler.snapshot().at(0);
  CHECK(l.interface == "lwnope0");
  CHECK(l.detail == "interface lwnope0: No such device");
  CHECK_FALSE(l.reading.rx_bps.has_value());
  CHECK(got.size() == 0);
}

TEST_CASE("bandwidth sampler: a line with no counters, interface or gateway says what to set") {
  const SystemClock clock;
  Collected got;
  BandwidthSampler sampler({line("bare", "")}, clock, got.consumer(), fast());
  const LineBandwidth l = sampler.snapshot().at(0);
  sampler.stop();
  CHECK(l.reading.state == CounterState::none);
  CHECK(l.from == CountersFrom::none);
  CHECK(l.interface.empty());
  CHECK(l.detail.find("set lines[].counters") != std::string::npos);
  CHECK(got.size() == 0);
}

TEST_CASE("bandwidth sampler: a line without counters reads the device towards its gateway") {
  const SystemClock clock;
  Collected got;
  LineSpec gw = line("gw", "");
  gw.gateway = "127.0.0.3";  // reached over lo from 127.0.0.1
  BandwidthSampler sampler({gw}, clock, got.consumer(), fast());
  auto resolved = [&] { return sampler.snapshot().at(0).from == CountersFrom::gateway; };
  REQUIRE(poll(3s, resolved, [] {}));
  sampler.stop();
  CHECK(sampler.snapshot().at(0).interface == "lo");
}

TEST_CASE("bandwidth sampler: stop wakes a sampler waiting for its next period") {
  const SystemClock clock;
  BandwidthSamplerOptions slow;
  slow.period = 1h;
  BandwidthSampler sampler({line("lo", "lo")}, clock, nullptr, slow);
  // The first pass runs at once; then the thread waits an hour unless woken.
  REQUIRE(poll(
      3s, [&] { return sampler.snapshot().at(0).reading.state != CounterState::none; }, [] {}));
  sampler.stop();  // the test's timeout catches a stop that waits out the period
  CHECK(sampler.snapshot().at(0).reading.state == CounterState::baseline);
}

}  // namespace
}  // namespace linewatch
