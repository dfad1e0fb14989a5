// bench_route_apply: how long one RouteApplier::apply() takes when it
// switches a route from one line to the other (primary-backup), and what a
// reconcile() costs when nothing drifted, with nexthop objects and with
// classic multipath routes. For scale, the same switch by `ip route replace`
// (one fork+exec of iproute2 per switch, no read-back).
//
// Runs in a private network namespace it creates for itself (unshare of the
// main thread before any other thread starts): veth links d1..d3 with
// 198.18.{1,2,3}.1/24, gateways .2, prefixes in 198.19.0.0/16. Nothing is
// sent anywhere; the namespace goes away with the process. Needs root.
//
// Each plan has R routes: the one that switches (198.19.1.0/24 between
// 198.18.1.2 on d1 and 198.18.2.2 on d2) and R-1 that stay (one hop on d3).
// apply() reads the table back first (one dump per family and one of the
// nexthop objects), so its time grows with R even when one route changes.
//
// Flags:
//   --switches N    switches per mode and size, default 200
//   --routes R,...  plan sizes to measure, default 1,100
//   --ip-peer B     also time `ip route replace` switches, default true
#include <sched.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "exporters/route_apply.h"

namespace linewatch::bench {
namespace {

using Steady = std::chrono::steady_clock;

struct Options {
  int switches = 200;
  std::vector<int> routes{1, 100};
  bool ip_peer = true;
};

bool make_lab() {
  if (::unshare(CLONE_NEWNET) != 0) {
    std::perror("unshare(CLONE_NEWNET)");
    return false;
  }
  std::string script = "set -e; ip link set lo up; ";
  for (int k = 1; k <= 3; ++k) {
    const std::string d = "d" + std::to_string(k), n = std::to_string(k);
    script += "ip link add " + d + " type veth peer name " + d + "p; ip link set " + d +
              "p up; ip addr add 198.18." + n + ".1/24 dev " + d + "; ip link set " + d + " up; ";
  }
  return std::system(("sh -c '" + script + "'").c_str()) == 0;
}

RoutePlan plan(int routes, bool backup) {
  RoutePlan p;
  p.agent = "bench";
  p.routes.push_back(
      {"198.19.1.0/24",
       {backup ? NextHop{"b", "198.18.2.2", "d2", 1} : NextHop{"a", "198.18.1.2", "d1", 1}}});
  for (int i = 1; i < routes; ++i)
    p.routes.push_back(
        {"198.19." + std::to_string(10 + i / 256) + "." + std::to_string(i % 256) + "/32",
         {{"c", "198.18.3.2", "d3", 1}}});
  return p;
}

struct Figures {
  std::vector<double> apply_ms, reconcile_ms;
  int failed = 0;
};

Figures measure(const Options& o, int routes, NexthopObjects mode) {
  SystemClock clock;
  RouteApplyOptions options;
  options.nexthop_objects = mode;
  Figures f;
  {
    RouteApplier applier(options, clock);
    auto first = applier.apply(plan(routes, false));
    if (!first.ok() || !first->ok()) {
      std::fprintf(stderr, "first apply failed: %s\n",
                   first.ok() ? "a route was refused" : first.error().message.c_str());
      ++f.failed;
      return f;
    }
    for (int i = 0; i < o.switches; ++i) {
      const RoutePlan next = plan(routes, i % 2 == 0);
      const auto t0 = Steady::now();
      auto report = applier.apply(next);
      const auto t1 = Steady::now();
      f.apply_ms.push_back(ms_between(t0, t1));
      if (!report.ok() || report->find("198.19.1.0/24")->change != RouteChange::switched)
        ++f.failed;
      const auto t2 = Steady::now();
      auto check = applier.reconcile();
      f.reconcile_ms.push_back(ms_between(t2, Steady::now()));
      if (!check.ok() || !check->routes.empty()) ++f.failed;
    }
    (void)applier.apply(plan(0, false));  // leaves the table empty for the next run
  }
  return f;
}

std::vector<double> measure_ip(const Options& o) {
  std::vector<double> ms;
  std::system("ip route replace 198.19.1.0/24 via 198.18.1.2 dev d1");
  for (int i = 0; i < o.switches; ++i) {
    const std::string cmd = i % 2 == 0 ? "ip route replace 198.19.1.0/24 via 198.18.2.2 dev d2"
                                       : "ip route replace 198.19.1.0/24 via 198.18.1.2 dev d1";
    const auto t0 = Steady::now();
    if (std::system(cmd.c_str()) != 0) return {};
    ms.push_back(ms_between(t0, Steady::now()));
  }
  std::system("ip route del 198.19.1.0/24");
  return ms;
}

std::vector<std::string> row(const std::string& what, int routes, std::vector<double> v) {
  const double p50 = quantile(v, 0.50);  // sorts v
  const double p95 = quantile(v, 0.95);
  const double max = v.empty() ? 0.0 : v.back();
  return {what,
          std::to_string(routes),
          fmt("%.3f", p50),
          fmt("%.3f", p95),
          fmt("%.3f", max),
          fmt("%.3f", mean(v))};
}

int run(const Options& o) {
  Table table({"operation", "routes", "p50 ms", "p95 ms", "max ms", "mean ms"});
  int failed = 0;
  for (int routes : o.routes) {
    for (auto [mode, name] : {std::pair{NexthopObjects::automatic, "nexthop objects"},
                              std::pair{NexthopObjects::never, "multipath routes"}}) {
      Figures f = measure(o, routes, mode);
      failed += f.failed;
      table.add(row(std::string("apply: switch, ") + name, routes, f.apply_ms));
      table.add(row(std::string("reconcile: no drift, ") + name, routes, f.reconcile_ms));
    }
  }
  if (o.ip_peer) table.add(row("ip route replace (fork+exec)", 1, measure_ip(o)));
  table.print("route switch: " + std::to_string(o.switches) + " switches per row");
  if (failed != 0) std::printf("%d switches or reconciles did not do what they should\n", failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace linewatch::bench

int main(int argc, char** argv) {
  linewatch::bench::Options o;
  CLI::App app{"Time of one route switch by RouteApplier::apply(), in a private network namespace"};
  app.add_option("--switches", o.switches, "switches per mode and size")
      ->check(CLI::Range(2, 100000));
  app.add_option("--routes", o.routes, "plan sizes, e.g. 1,100")
      ->delimiter(',')
      ->check(CLI::Range(1, 60000));
  app.add_option("--ip-peer", o.ip_peer, "also time `ip route replace` switches");
  CLI11_PARSE(app, argc, argv);
  if (geteuid() != 0) {
    std::fprintf(stderr, "bench_route_apply needs root (a network namespace and CAP_NET_ADMIN)\n");
    return 2;
  }
  if (!linewatch::bench::make_lab()) return 2;
  return linewatch::bench::run(o);
}
