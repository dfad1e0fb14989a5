#include "exporters/plan_pusher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "core/fd.h"
#include "exporters/exec_receiver.h"
#include "exporters/http_receiver.h"
#include "exporters/push_worker.h"

namespace linewatch {

namespace {

constexpr std::size_t kSecretLimit = 64 * 1024;

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

// A receiver for gateways[index], or the first problem with its config.
Result<std::unique_ptr<PlanReceiver>> make_receiver(const GatewaySpec& g, const std::string& where,
                                                    const PushOptions& options,
                                                    const Clock& clock) {
  if (g.url.empty() == g.exec.empty()) return invalid(where + ": set exactly one of url and exec");
  if (!g.exec.empty())
    return std::unique_ptr<PlanReceiver>(new ExecReceiver(g, options.kill_grace));
  Result<std::string> secret = read_gateway_secret(g.secret_file, where);
  if (!secret) return secret.error();
  auto r = HttpReceiver::create(g, std::move(*secret), where, clock);
  if (!r) return r.error();
  return std::unique_ptr<PlanReceiver>(std::move(*r));
}

}  // namespace

Result<std::string> read_gateway_secret(const std::string& path, const std::string& where) {
  const std::string key = where + ".secret_file";
  if (path.empty()) return invalid(key + ": required for a url gateway");
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return io_error(key + ": cannot read " + path + ": " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return invalid(key + ": " + path + " is not a regular file");
  std::string secret(kSecretLimit + 1, '\0');
  std::size_t got = 0;
  while (got < secret.size()) {
    const ssize_t n = ::read(fd.get(), secret.data() + got, secret.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(key + ": cannot read " + path + ": " + errno_text(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > kSecretLimit) return invalid(key + ": " + path + " is larger than 64 KiB");
  secret.resize(got);
  // The same rule as `linewatch gateway` (agent/gateway_config.cc): trailing
  // blanks and line ends are not part of the key.
  while (!secret.empty() &&
         std::string_view(" \t\r\n").find(secret.back()) != std::string_view::npos)
    secret.pop_back();
  if (secret.empty()) return invalid(key + ": " + path + " is empty");
  return secret;
}

Result<std::unique_ptr<PlanPusher>> PlanPusher::start(const std::vector<GatewaySpec>& gateways,
                                                      const PushOptions& options, EventSink& events,
                                                      const Clock& clock) {
  std::vector<std::unique_ptr<PlanReceiver>> receivers;
  for (std::size_t i = 0; i < gateways.size(); ++i) {
    auto r = make_receiver(gateways[i], "gateways[" + std::to_string(i) + "]", options, clock);
    if (!r) return r.error();
    receivers.push_back(std::move(*r));
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::size_t i = 0; i < gateways.size(); ++i) {
    GatewayStatus identity;
    identity.id = gateways[i].id;
    identity.kind = gateways[i].exec.empty() ? "url" : "exec";
    workers.push_back(std::make_unique<Worker>(std::move(identity), std::move(receivers[i]),
                                               options, events, clock));
  }
  return std::unique_ptr<PlanPusher>(new PlanPusher(std::move(workers)));
}

PlanPusher::PlanPusher(std::vector<std::unique_ptr<Worker>> workers)
    : workers_(std::move(workers)) {}

PlanPusher::~PlanPusher() { stop(); }

void PlanPusher::publish(const RoutePlan& plan) {
  // One copy shared by every gateway; each encodes its own.
  auto shared = std::make_shared<const RoutePlan>(plan);
  for (const auto& w : workers_) w->offer(shared);
}

std::vector<GatewayStatus> PlanPusher::status() const {
  std::vector<GatewayStatus> out;
  out.reserve(workers_.size());
  for (const auto& w : workers_) out.push_back(w->status());
  return out;
}

void PlanPusher::stop() {
  // Ask every thread first, so their waits and programs end in parallel.
  for (const auto& w : workers_) w->request_stop();
  for (const auto& w : workers_) w->stop();
}

}  // namespace linewatch
