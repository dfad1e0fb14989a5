#include "tests/lab/mockllm/server.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>

#include <mutex>

#include "tests/lab/mockllm/handler.h"
#include "tests/lab/mockllm/state.h"

namespace linewatch::mockllm {
namespace {

using Poco::Net::SocketAddress;

// Request threads per listener; a streamed reply holds one for its whole run.
constexpr int kThreadsPerListener = 32;

Result<SocketAddress> parse_address(const std::string& text) {
  try {
    return SocketAddress(text);
  } catch (const Poco::Exception& e) {
    return invalid("listen address '" + text + "' (want ADDR:PORT): " + e.displayText());
  }
}

Result<Poco::Net::Context::Ptr> server_context(const Options& o) {
  if (o.cert_file.empty() || o.key_file.empty())
    return invalid("a TLS listener needs both a certificate (--cert) and a key (--key)");
  // OpenSSL setup is process-wide and reference-counted by Poco; once is enough.
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
  try {
    Poco::Net::Context::Params params;
    params.privateKeyFile = o.key_file;
    params.certificateFile = o.cert_file;
    params.verificationMode = Poco::Net::Context::VERIFY_NONE;  // no client certificates
    return Poco::Net::Context::Ptr(new Poco::Net::Context(Poco::Net::Context::SERVER_USE, params));
  } catch (const Poco::Exception& e) {
    return io_error("TLS certificate '" + o.cert_file + "' / key '" + o.key_file +
                    "': " + e.displayText());
  }
}

}  // namespace

struct Server::Impl {
  std::shared_ptr<SharedState> state;
  Poco::ThreadPool pool;  // outlives the servers below (declared before them)
  std::vector<std::unique_ptr<Poco::Net::HTTPServer>> servers;
  std::vector<SocketAddress> http;
  std::vector<SocketAddress> https;
  std::once_flag stopped;

  Impl(std::shared_ptr<SharedState> s, int threads)
      : state(std::move(s)), pool("mockllm", 2, threads) {}

  Status listen(const std::string& text, Poco::Net::Context::Ptr tls) {
    Result<SocketAddress> address = parse_address(text);
    if (!address) return address.error();
    try {
      std::unique_ptr<Poco::Net::ServerSocket> socket;
      if (tls)
        socket = std::make_unique<Poco::Net::SecureServerSocket>(*address, 64, tls);
      else
        socket = std::make_unique<Poco::Net::ServerSocket>(*address, 64);
      (tls ? https : http).push_back(socket->address());
      auto* params = new Poco::Net::HTTPServerParams;
      params->setMaxThreads(kThreadsPerListener);
      params->setMaxQueued(256);
      params->setTimeout(Poco::Timespan(30, 0));
      servers.push_back(std::make_unique<Poco::Net::HTTPServer>(new HandlerFactory(state), pool,
                                                                *socket, params));
      servers.back()->start();
      return ok_status();
    } catch (const Poco::Exception& e) {
      return io_error("listen on " + text + ": " + e.displayText());
    }
  }

  void stop() {
    std::call_once(stopped, [this] {
      state->stop();  // pacing replies return at once
      for (auto& s : servers) s->stopAll(true);
      pool.joinAll();
      servers.clear();  // closes the listening sockets: a stopped server refuses
    });
  }
};

Result<std::unique_ptr<Server>> Server::start(Options o) {
  if (o.listen.empty() && o.tls_listen.empty()) return invalid("no listen address given");
  for (Flavour f : kFlavours)
    if (Status s = validate(of(o.behaviour, f)); !s)
      return invalid(std::string(to_string(f)) + ": " + s.error().message);
  Poco::Net::Context::Ptr tls;
  if (!o.tls_listen.empty()) {
    Result<Poco::Net::Context::Ptr> context = server_context(o);
    if (!context) return context.error();
    tls = *context;
  }
  const int listeners = static_cast<int>(o.listen.size() + o.tls_listen.size());
  auto state = std::make_shared<SharedState>(o.behaviour, std::move(o.log));
  auto impl = std::make_unique<Impl>(state, listeners * kThreadsPerListener + 2);
  for (const std::string& a : o.listen)
    if (Status s = impl->listen(a, nullptr); !s) return impl->stop(), s.error();
  for (const std::string& a : o.tls_listen)
    if (Status s = impl->listen(a, tls); !s) return impl->stop(), s.error();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { stop(); }

const std::vector<SocketAddress>& Server::http_addresses() const { return impl_->http; }
const std::vector<SocketAddress>& Server::https_addresses() const { return impl_->https; }

Behaviours Server::behaviours() const { return impl_->state->behaviours(); }

Status Server::set_behaviours(const Behaviours& all) {
  for (Flavour f : kFlavours)
    if (Status s = validate(of(all, f)); !s)
      return invalid(std::string(to_string(f)) + ": " + s.error().message);
  impl_->state->set_behaviours(all);
  return ok_status();
}

std::vector<Record> Server::records(std::uint64_t after, std::size_t last) const {
  return impl_->state->records(after, last);
}

void Server::stop() { impl_->stop(); }

}  // namespace linewatch::mockllm
