// RouteApplier against a real kernel, each case in its own network namespace
// (exporters/route_apply_lab_test_support.h). The table is read back twice: with
// the applier's own netlink dump and with `ip -j` from inside the namespace.
#include "exporters/route_apply.h"

#include <doctest/doctest.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "exporters/route_apply_test_util.h"

namespace linewatch {
namespace {

using namespace route_test;

TEST_CASE("a single hop route goes in through a nexthop object and stays put when reapplied") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    RouteApplier applier({}, clock);
    const RoutePlan plan = plan_of({{"198.19.1.0/24", {hop("cn2", "198.18.1.2", "d1")}},
                                    {"2001:2:0:ff01::/64", {hop("cn2", "2001:2:0:1::2", "")}}});
    auto report = applier.apply(plan);
    REQUIRE(report.ok());
    INFO(summary(*report));
    CHECK(report->ok());
    CHECK_FALSE(report->multipath);
    CHECK(change_of(*report, "198.19.1.0/24") == RouteChange::added);
    CHECK(change_of(*report, "2001:2:0:ff01::/64") == RouteChange::added);

    // The applier's own dump.
    const KernelView view = view_now();
    const KernelRoute* v4 = only_route(view, "198.19.1.0/24");
    REQUIRE(v4 != nullptr);
    CHECK(v4->protocol == kLinewatchProtocol);
    CHECK(in_default_range(v4->nexthop_id));
    CHECK(hops_text(view, *v4) == std::vector<std::string>{"198.18.1.2 d1"});
    const KernelRoute* v6 = only_route(view, "2001:2:0:ff01::/64");
    REQUIRE(v6 != nullptr);
    CHECK(v6->metric == 1024);  // metric 0 as IPv6 stores it
    CHECK(hops_text(view, *v6) == std::vector<std::string>{"2001:2:0:1::2 d1"});

    // ip's reading: the route points at the object, which has our protocol.
    auto route = ip_route("198.19.1.0/24");
    REQUIRE(route);
    CHECK(route->getValue<std::string>("protocol") == "76");
    CHECK(route->getValue<std::uint32_t>("nhid") == v4->nexthop_id);
    CHECK(ip_hops(route) == std::vector<std::string>{"198.18.1.2 d1"});
    auto nh = testing::ip_json("nexthop show id " + std::to_string(v4->nexthop_id));
    REQUIRE(nh->size() == 1);
    CHECK(nh->getObject(0)->getValue<std::string>("gateway") == "198.18.1.2");
    CHECK(nh->getObject(0)->getValue<std::string>("protocol") == "76");
    auto route6 = ip_route("2001:2:0:ff01::/64");
    REQUIRE(route6);
    CHECK(ip_hops(route6) == std::vector<std::string>{"2001:2:0:1::2 d1"});
    CHECK(gateway_for("198.19.1.77") == "198.18.1.2 d1");
    CHECK(gateway_for("2001:2:0:ff01::77") == "2001:2:0:1::2 d1");

    // The same plan again writes nothing: same objects, same ids.
    const auto before = our_nexthops();
    auto again = applier.apply(plan);
    REQUIRE(again.ok());
    CHECK(change_of(*again, "198.19.1.0/24") == RouteChange::unchanged);
    CHECK(change_of(*again, "2001:2:0:ff01::/64") == RouteChange::unchanged);
    CHECK(our_nexthops() == before);
    CHECK(before.size() == 2);
  });
}

// What a socket joined to the IPv4 route and nexthop groups saw happen to
// one prefix, in the kernel's order. A delete-then-add switch shows an
// RTM_DELROUTE; deleting the old objects before the switch (break before
// make) shows an RTM_DELNEXTHOP of an object the route still used (the
// kernel then drops the route without a notification of its own).
struct RouteNotes {
  int added = 0;
  int deleted = 0;
  int in_use_deleted = 0;
};
RouteNotes notes_for(NetlinkSocket& monitor, const IpPrefix& prefix) {
  RouteNotes n;
  std::uint32_t in_use = 0;
  monitor.drain([&](const nlmsghdr& nlh) {
    if (nlh.nlmsg_type == RTM_DELNEXTHOP) {
      for_each_attribute(nlh, sizeof(nhmsg), [&](const nlattr& a) {
        if (mnl_attr_get_type(&a) == NHA_ID && mnl_attr_get_u32(&a) == in_use) ++n.in_use_deleted;
      });
      return;
    }
    if (nlh.nlmsg_type != RTM_NEWROUTE && nlh.nlmsg_type != RTM_DELROUTE) return;
    const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(&nlh));
    if (rtm->rtm_dst_len != prefix.length) return;
    bool same = false;
    std::uint32_t nh = 0;
    for_each_attribute(nlh, sizeof(rtmsg), [&](const nlattr& a) {
      if (mnl_attr_get_type(&a) == RTA_NH_ID) nh = mnl_attr_get_u32(&a);
      if (mnl_attr_get_type(&a) == RTA_DST && mnl_attr_get_payload_len(&a) == 4)
        same = std::equal(prefix.address.bytes.begin(), prefix.address.bytes.begin() + 4,
                          static_cast<const unsigned char*>(mnl_attr_get_payload(&a)));
    });
    if (!same) return;
    if (nlh.nlmsg_type == RTM_NEWROUTE) {
      ++n.added;
      in_use = nh;
    } else {
      ++n.deleted;
    }
  });
  return n;
}

TEST_CASE("a primary-backup switch replaces the route in place and it is never absent") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    RouteApplier applier({}, clock);
    const RoutePlan primary = plan_of({{"198.19.1.0/24", {hop("cn2", "198.18.1.2", "d1")}}});
    const RoutePlan backup = plan_of({{"198.19.1.0/24", {hop("cu", "198.18.2.2", "d2")}}});
    REQUIRE(applier.apply(primary).ok());
    auto monitor =
        NetlinkSocket::open(NetlinkSocket::kDefaultTimeout, {RTNLGRP_IPV4_ROUTE, RTNLGRP_NEXTHOP});
    REQUIRE(monitor.ok());

    // A lookup loop, like `ip route get 198.19.1.9` in a tight loop,
    // on a thread of the same namespace.
    std::atomic<bool> stop{false};
    std::atomic<long> lookups{0}, failures{0};
    std::atomic<int> last{0};  // 1: primary, 2: backup, 3: anything else
    std::thread looker([&] {
      auto socket = NetlinkSocket::open();
      if (!socket.ok()) return;
      const IpAddress target = *IpAddress::parse("198.19.1.9");
      while (!stop && lookups < 5'000'000) {
        RouteLookup found;
        const NlAnswer a = lookup_route(*socket, target, found);
        const std::string gw = found.hop.gateway.str();
        if (!a.ok()) ++failures;
        last = !a.ok() ? 3 : gw == "198.18.1.2" ? 1 : gw == "198.18.2.2" ? 2 : 3;
        ++lookups;
      }
    });
    constexpr int kSwitches = 60;
    int switched = 0, seen_right = 0;
    for (int i = 0; i < kSwitches; ++i) {
      const bool to_backup = i % 2 == 0;
      auto report = applier.apply(to_backup ? backup : primary);
      if (report.ok() && change_of(*report, "198.19.1.0/24") == RouteChange::switched) ++switched;
      // Two lookups later, one started after the switch returned.
      const long mark = lookups.load();
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (lookups < mark + 2 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      if (last == (to_backup ? 2 : 1)) ++seen_right;
    }
    stop = true;
    looker.join();
    CHECK(switched == kSwitches);
    CHECK(seen_right == kSwitches);
    CHECK(lookups.load() > 2 * kSwitches);
    CHECK(failures.load() == 0);

    // By design: each switch was one RTM_NEWROUTE replace, no delete, and
    // old objects went only once the route had left them.
    const RouteNotes notes = notes_for(*monitor, *IpPrefix::parse("198.19.1.0/24"));
    CHECK(notes.added == kSwitches);
    CHECK(notes.deleted == 0);
    CHECK(notes.in_use_deleted == 0);
    // The old objects were deleted after each switch.
    CHECK(our_nexthops().size() == 1);
    CHECK(ip_hops(ip_route("198.19.1.0/24")) == std::vector<std::string>{"198.18.1.2 d1"});
  });
}

TEST_CASE("a weighted group of three hops carries their weights") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    RouteApplier applier({}, clock);
    auto weighted = [](std::uint32_t second_weight) {
      return plan_of(
          {{"198.19.3.0/24",
            {hop("a", "198.18.1.2", "d1", 10), hop("b", "198.18.2.2", "d2", second_weight),
             hop("c", "198.18.3.2", "d3", 30)}},
           {"2001:2:0:ff03::/64",
            {hop("a", "2001:2:0:1::2", "d1", 1), hop("b", "2001:2:0:2::2", "d2", 255)}}});
    };
    auto report = applier.apply(weighted(20));
    REQUIRE(report.ok());
    INFO(summary(*report));
    CHECK(report->ok());

    const KernelView view = view_now();
    const KernelRoute* route = only_route(view, "198.19.3.0/24");
    REQUIRE(route != nullptr);
    const KernelNexthop* group = view.nexthop(route->nexthop_id);
    REQUIRE(group != nullptr);
    REQUIRE(group->group.size() == 3);
    CHECK(hops_text(view, *route) ==
          std::vector<std::string>{"198.18.1.2 d1 w10", "198.18.2.2 d2 w20", "198.18.3.2 d3 w30"});
    const KernelRoute* route6 = only_route(view, "2001:2:0:ff03::/64");
    REQUIRE(route6 != nullptr);
    CHECK(hops_text(view, *route6) ==
          std::vector<std::string>{"2001:2:0:1::2 d1 w1", "2001:2:0:2::2 d2 w255"});

    // ip: the route's expanded hops and the group's member weights.
    CHECK(ip_hops(ip_route("198.19.3.0/24")) ==
          std::vector<std::string>{"198.18.1.2 d1 w10", "198.18.2.2 d2 w20", "198.18.3.2 d3 w30"});
    auto nh = testing::ip_json("nexthop show id " + std::to_string(group->id));
    REQUIRE(nh->size() == 1);
    std::vector<int> weights;
    auto members = nh->getObject(0)->getArray("group");
    REQUIRE(members);
    for (std::size_t i = 0; i < members->size(); ++i)
      weights.push_back(members->getObject(i)->getValue<int>("weight"));
    std::sort(weights.begin(), weights.end());
    CHECK(weights == std::vector<int>{10, 20, 30});
    CHECK(ip_hops(ip_route("2001:2:0:ff03::/64")) ==
          std::vector<std::string>{"2001:2:0:1::2 d1 w1", "2001:2:0:2::2 d2 w255"});

    // A new weight: a new group, the old one and its members gone.
    auto changed = applier.apply(weighted(40));
    REQUIRE(changed.ok());
    CHECK(change_of(*changed, "198.19.3.0/24") == RouteChange::switched);
    CHECK(change_of(*changed, "2001:2:0:ff03::/64") == RouteChange::unchanged);
    const KernelView after = view_now();
    const KernelRoute* moved = only_route(after, "198.19.3.0/24");
    REQUIRE(moved != nullptr);
    CHECK(moved->nexthop_id != route->nexthop_id);
    CHECK(hops_text(after, *moved)[1] == "198.18.2.2 d2 w40");
    CHECK(after.nexthop(route->nexthop_id) == nullptr);
    for (const auto& member : group->group) CHECK(after.nexthop(member.first) == nullptr);
    CHECK(our_nexthops().size() == 4 + 3);  // 3 hops + group, 2 hops + group
  });
}

TEST_CASE("a prefix dropped from the plan is removed with its nexthop objects") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    RouteApplier applier({}, clock);
    const RouteEntry kept{"198.19.1.0/24", {hop("a", "198.18.1.2", "d1")}};
    REQUIRE(
        applier
            .apply(plan_of({kept,
                            {"198.19.3.0/24",
                             {hop("a", "198.18.1.2", "d1", 1), hop("b", "198.18.2.2", "d2", 2)}},
                            {"2001:2:0:ff03::/64", {hop("a", "2001:2:0:1::2", "d1")}}}))
            .ok());
    CHECK(our_nexthops().size() == 1 + 3 + 1);
    CHECK(gateway_for("198.19.3.1") != "unreachable");

    auto report = applier.apply(plan_of({kept}));
    REQUIRE(report.ok());
    INFO(summary(*report));
    CHECK(report->ok());
    CHECK(change_of(*report, "198.19.1.0/24") == RouteChange::unchanged);
    CHECK(change_of(*report, "198.19.3.0/24") == RouteChange::removed);
    CHECK(change_of(*report, "2001:2:0:ff03::/64") == RouteChange::removed);
    CHECK_FALSE(ip_route("198.19.3.0/24"));
    CHECK_FALSE(ip_route("2001:2:0:ff03::/64"));
    CHECK(view_now().routes_for(*IpPrefix::parse("198.19.3.0/24")).empty());
    CHECK(gateway_for("198.19.3.1") == "unreachable");
    CHECK(gateway_for("198.19.1.1") == "198.18.1.2 d1");
    CHECK(our_nexthops().size() == 1);
  });
}

TEST_CASE("a foreign route on a planned prefix is left alone and reported as a conflict") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    REQUIRE(run("ip route add 198.19.5.0/24 via 198.18.1.2 dev d1"));
    REQUIRE(run("ip -6 route add 2001:2:0:ff05::/64 via 2001:2:0:1::2 dev d1 metric 300"));
    SystemClock clock;
    RouteApplier applier({}, clock);
    auto report = applier.apply(plan_of({{"198.19.5.0/24", {hop("b", "198.18.2.2", "d2")}},
                                         {"2001:2:0:ff05::/64", {hop("b", "2001:2:0:2::2", "d2")}},
                                         {"198.19.1.0/24", {hop("a", "198.18.1.2", "d1")}}}));
    REQUIRE(report.ok());
    INFO(summary(*report));
    CHECK_FALSE(report->ok());
    const RouteOutcome* v4 = report->find("198.19.5.0/24");
    REQUIRE(v4 != nullptr);
    CHECK(v4->change == RouteChange::conflict);
    CHECK(v4->error.find("route 198.19.5.0/24") != std::string::npos);
    CHECK(v4->error.find("proto boot") != std::string::npos);
    CHECK(v4->error.find("via 198.18.1.2 dev d1") != std::string::npos);
    CHECK(change_of(*report, "2001:2:0:ff05::/64") == RouteChange::conflict);
    CHECK(change_of(*report, "198.19.1.0/24") == RouteChange::added);

    auto foreign = ip_route("198.19.5.0/24");
    REQUIRE(foreign);
    const KernelRoute* kept = only_route(view_now(), "198.19.5.0/24");
    REQUIRE(kept != nullptr);
    CHECK(kept->protocol == RTPROT_BOOT);
    CHECK_FALSE(foreign->has("nhid"));
    CHECK(ip_hops(foreign) == std::vector<std::string>{"198.18.1.2 d1"});
    auto foreign6 = testing::ip_json("-6 route show table main 2001:2:0:ff05::/64");
    REQUIRE(foreign6->size() == 1);  // ours was not added beside it either
    CHECK(foreign6->getObject(0)->getValue<int>("metric") == 300);

    // An empty plan removes ours only.
    auto emptied = applier.apply(plan_of({}));
    REQUIRE(emptied.ok());
    CHECK(change_of(*emptied, "198.19.1.0/24") == RouteChange::removed);
    CHECK(emptied->routes.size() == 1);
    CHECK(ip_route("198.19.5.0/24"));
    CHECK(testing::ip_json("-6 route show table main 2001:2:0:ff05::/64")->size() == 1);
  });
}

TEST_CASE("multipath routes forward the same as nexthop objects") {
  SKIP_WITHOUT_LAB();
  const RoutePlan plan =
      plan_of({{"198.19.1.0/24", {hop("a", "198.18.1.2", "d1")}},
               {"198.19.3.0/24",
                {hop("a", "198.18.1.2", "d1", 10), hop("b", "198.18.2.2", "d2", 20),
                 hop("c", "198.18.3.2", "d3", 30)}},
               {"2001:2:0:ff03::/64",
                {hop("a", "2001:2:0:1::2", "d1", 3), hop("b", "2001:2:0:2::2", "d2", 5)}}});
  struct Forwarding {
    std::vector<std::vector<std::string>> hops;  // per route, as ip shows them
    std::vector<std::string> lookups;            // where 64 flows go
    std::size_t objects = 0;
    bool multipath = false;
  };
  auto forwarding = [&](NexthopObjects mode) {
    Forwarding f;
    RUN_IN_LAB([&] {
      SystemClock clock;
      RouteApplyOptions options;
      options.nexthop_objects = mode;
      RouteApplier applier(options, clock);
      auto report = applier.apply(plan);
      REQUIRE(report.ok());
      INFO(summary(*report));
      CHECK(report->ok());
      f.multipath = report->multipath;
      for (const auto& r : plan.routes) f.hops.push_back(ip_hops(ip_route(r.prefix)));
      for (int i = 1; i <= 32; ++i) {
        f.lookups.push_back(gateway_for("198.19.3." + std::to_string(i)));
        f.lookups.push_back(gateway_for("2001:2:0:ff03::" + std::to_string(i)));
      }
      f.objects = our_nexthops().size();
      if (mode == NexthopObjects::never) {
        // No object anywhere, and a switch and a repair work the same way.
        CHECK_FALSE(ip_route("198.19.3.0/24")->has("nhid"));
        auto moved = applier.apply(plan_of(
            {plan.routes[0], {"198.19.3.0/24", {hop("b", "198.18.2.2", "d2")}}, plan.routes[2]}));
        REQUIRE(moved.ok());
        CHECK(change_of(*moved, "198.19.3.0/24") == RouteChange::switched);
        CHECK(gateway_for("198.19.3.1") == "198.18.2.2 d2");
        REQUIRE(run("ip -6 route del 2001:2:0:ff03::/64"));
        auto repaired = applier.reconcile();
        REQUIRE(repaired.ok());
        CHECK(change_of(*repaired, "2001:2:0:ff03::/64") == RouteChange::restored);
        CHECK(ip_hops(ip_route("2001:2:0:ff03::/64")) == f.hops[2]);
        CHECK(our_nexthops().empty());
      }
    });
    return f;
  };
  const Forwarding objects = forwarding(NexthopObjects::automatic);
  const Forwarding classic = forwarding(NexthopObjects::never);
  CHECK_FALSE(objects.multipath);
  CHECK(classic.multipath);
  CHECK(objects.objects == 1 + 4 + 3);
  CHECK(classic.objects == 0);
  CHECK(objects.hops == classic.hops);
  CHECK(objects.hops[1] ==
        std::vector<std::string>{"198.18.1.2 d1 w10", "198.18.2.2 d2 w20", "198.18.3.2 d3 w30"});
  // The kernel hashes a flow the same way over a group and over a multipath route.
  CHECK(objects.lookups == classic.lookups);
  for (const std::string& where : objects.lookups) CHECK(where != "unreachable");
  const std::set<std::string> used(objects.lookups.begin(), objects.lookups.end());
  CHECK(used.size() >= 3);  // the flows really spread over the hops
}

}  // namespace
}  // namespace linewatch
