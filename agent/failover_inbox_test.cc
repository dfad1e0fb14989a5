#include "agent/failover_inbox.h"

#include <doctest/doctest.h>

#include <thread>

using namespace linewatch;
using namespace std::chrono_literals;

TEST_CASE("the failover inbox gives back its inputs in order with the oldest push time") {
  FailoverInbox inbox(4);
  CHECK(inbox.push(TickInput{MonoTime(1s)}, MonoTime(10s), false));
  CHECK(inbox.push(EchoSentInput{1, "edge", 7, MonoTime(2s)}, MonoTime(11s), false));
  auto batch = inbox.take();
  REQUIRE(batch.inputs.size() == 2);
  CHECK(std::get<TickInput>(batch.inputs[0]).now == MonoTime(1s));
  CHECK(std::get<EchoSentInput>(batch.inputs[1]).seq == 7);
  CHECK(batch.oldest == MonoTime(10s));
  auto empty = inbox.take();
  CHECK(empty.inputs.empty());
  CHECK_FALSE(empty.oldest.has_value());
}

TEST_CASE("the failover inbox drops and counts beyond its capacity") {
  FailoverInbox inbox(2);
  CHECK(inbox.push(TickInput{}, MonoTime{}, false));
  CHECK(inbox.push(TickInput{}, MonoTime{}, false));
  CHECK_FALSE(inbox.push(TickInput{}, MonoTime{}, true));
  CHECK(inbox.dropped() == 1);
  CHECK(inbox.take().inputs.size() == 2);
  CHECK(inbox.push(TickInput{}, MonoTime{}, false));
  CHECK(inbox.dropped() == 1);
}

TEST_CASE("the failover inbox wakes its consumer on a waking input and on close") {
  FailoverInbox inbox(8);
  inbox.push(TickInput{}, MonoTime{}, false);
  // A non-waking input leaves wait() to its timeout; a waking one ends it at once.
  std::thread producer([&] {
    std::this_thread::sleep_for(20ms);
    inbox.push(TickInput{}, MonoTime{}, true);
  });
  CHECK(inbox.wait(60s));  // bounded by the producer, not the timeout
  producer.join();
  CHECK(inbox.take().inputs.size() == 2);

  std::thread closer([&] {
    std::this_thread::sleep_for(20ms);
    inbox.close();
  });
  CHECK_FALSE(inbox.pause(60s));
  closer.join();
  CHECK_FALSE(inbox.wait(60s));
  CHECK_FALSE(inbox.push(TickInput{}, MonoTime{}, true));
  CHECK(inbox.dropped() == 0);  // refused after close, not counted as a drop
}
