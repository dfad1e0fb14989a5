// bench_status_board: the memory of the status board (the live window behind
// /api/v1/status) at a high probe rate. Feeds a StatusBoard RATE rounds/s of
// 5-ping ICMP rounds (1 % failing, with a detail) for MINUTES simulated
// minutes on a fake clock, spread over SERIES series, and prints the
// process's RSS after each simulated minute. No network.
//
// Usage: bench_status_board [RATE=1600] [SERIES=16] [MINUTES=5]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "core/fake_clock.h"
#include "rules/status_board.h"

using namespace linewatch;

static long rss_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::string(key).size());
  return -1;
}

int main(int argc, char** argv) {
  const int rate = argc > 1 ? std::atoi(argv[1]) : 1600;
  const int series = argc > 2 ? std::atoi(argv[2]) : 16;
  const int minutes = argc > 3 ? std::atoi(argv[3]) : 5;
  FakeClock clock;
  StatusBoard board(clock, std::chrono::minutes(5));
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<long> noise(-500'000, 500'000);
  const Duration step = Duration(std::chrono::seconds(1)) / rate;
  std::printf("rate=%d rounds/s series=%d  start VmRSS=%ld kB\n", rate, series, rss_kb("VmRSS:"));
  long n = 0;
  for (int m = 1; m <= minutes; ++m) {
    for (long i = 0; i < 60L * rate; ++i, ++n) {
      ProbeResult r;
      const long k = n % series;
      r.line = "line-" + std::to_string(k / 4);
      r.target = "target-" + std::to_string(k % 4);
      r.kind = ProbeKind::icmp;
      r.time = clock.wall_now();
      for (int p = 0; p < 5; ++p) {
        if (rng() % 100 == 0)
          r.rtts.push_back(std::nullopt);
        else
          r.rtts.push_back(std::chrono::milliseconds(150) + Duration(noise(rng)));
      }
      r.sent = 5;
      summarise_echoes(r);
      r.ok = r.received > 0 && n % 100 != 0;
      r.reason = r.ok ? Reason::ok : Reason::timeout;
      if (!r.ok)
        r.detail = "no reply to 5 echoes within 2s from 198.18.0." + std::to_string(n % 250);
      board.record(r);
      clock.advance(step);
    }
    std::printf("minute %d: rounds=%ld VmRSS=%ld kB\n", m, n, rss_kb("VmRSS:"));
  }
  const auto snap = board.snapshot();
  long kept = 0;
  for (const auto& s : snap) kept += s.rounds;
  std::printf("end: series=%zu rounds in summaries=%ld VmRSS=%ld kB VmHWM=%ld kB\n", snap.size(),
              kept, rss_kb("VmRSS:"), rss_kb("VmHWM:"));
}
