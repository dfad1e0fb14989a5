// Test-only support for the HTTP probe's tests: a loopback HTTP(S) server
// whose every connection is answered by a test-supplied handler, a raw
// loopback server that hands over the accepted socket untouched, a temporary
// directory, and a throw-away CA with a server certificate made by the
// openssl CLI.
//
// Thread-safety: a TestServer or RawServer runs one accept thread; it is
// started by its constructor and stopped and joined by its destructor
// (handlers must watch `stopping` in any wait longer than a moment).
#pragma once

#include <Poco/Net/Context.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "tests/support/temp_dir.h"

namespace linewatch::test {

// A fresh directory under the system temp dir, removed with its content.
using TempDir = linewatch::testing::TempDir;

// Makes ca.pem (a CA) and server.pem/server.key (signed by it, SAN
// IP:127.0.0.1 and DNS:localhost), both valid for `days` days, in `dir`.
// Returns false when the openssl CLI failed.
inline bool make_test_pki(const TempDir& dir, int days) {
  const std::string d = dir.file("");
  const std::string n = std::to_string(days);
  const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string script =
      "cd '" + d +
      "' && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n"
      "basicConstraints=CA:FALSE\\n' > ext.cnf"
      " && openssl req -x509" +
      key + " -keyout ca.key -out ca.pem -days " + n +
      " -subj /CN=linewatch-test-ca"
      " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
      " && openssl req" +
      key +
      " -keyout server.key -out server.csr -subj /CN=linewatch-test-server"
      " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
      " -out server.pem -days " +
      n + " -extfile ext.cnf";
  return std::system(("( " + script + " ) >/dev/null 2>&1").c_str()) == 0;
}

// A loopback server on 127.0.0.1 (ephemeral port). Each accepted connection
// (TLS-wrapped when a server context is given) has its request head read and
// is passed to the handler, one connection at a time, on the server thread.
class TestServer {
 public:
  using Handler = std::function<void(Poco::Net::StreamSocket& socket, const std::string& head,
                                     const std::atomic<bool>& stopping)>;

  explicit TestServer(Handler handler, Poco::Net::Context::Ptr tls = nullptr)
      : listener_(Poco::Net::SocketAddress("127.0.0.1", 0)),
        handler_(std::move(handler)),
        tls_(std::move(tls)),
        thread_([this] { run(); }) {}
  ~TestServer() {
    stopping_ = true;
    thread_.join();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const { return listener_.address().port(); }
  std::string url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return std::string(tls_ ? "https://" : "http://") + host + ":" + std::to_string(port()) + path;
  }

 private:
  void run() {
    while (!stopping_) {
      try {
        if (!listener_.poll(Poco::Timespan(0, 50'000), Poco::Net::Socket::SELECT_READ)) continue;
        Poco::Net::StreamSocket socket = listener_.acceptConnection();
        socket.setReceiveTimeout(Poco::Timespan(2, 0));
        socket.setSendTimeout(Poco::Timespan(2, 0));
        if (tls_) socket = Poco::Net::SecureStreamSocket::attach(socket, tls_);
        handler_(socket, read_head(socket), stopping_);
      } catch (const Poco::Exception&) {
        // A client that gave up (rejected our certificate, closed early) is
        // part of what these tests provoke; the next connection is served.
      }
    }
  }

  static std::string read_head(Poco::Net::StreamSocket& socket) {
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
      const int n = socket.receiveBytes(buf, sizeof buf);
      if (n <= 0) break;
      head.append(buf, static_cast<std::size_t>(n));
    }
    return head;
  }

  Poco::Net::ServerSocket listener_;
  Handler handler_;
  Poco::Net::Context::Ptr tls_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // last: starts once everything above exists
};

// A loopback server on 127.0.0.1 (ephemeral port) that passes each accepted
// connection, nothing read from it and nothing wrapped around it, to the
// handler, one connection at a time, on the server thread: for servers that
// misbehave below HTTP (a trickled TLS handshake, a reset).
class RawServer {
 public:
  using Handler =
      std::function<void(Poco::Net::StreamSocket& socket, const std::atomic<bool>& stopping)>;

  explicit RawServer(Handler handler)
      : listener_(Poco::Net::SocketAddress("127.0.0.1", 0)),
        handler_(std::move(handler)),
        thread_([this] { run(); }) {}
  ~RawServer() {
    stopping_ = true;
    thread_.join();
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  std::uint16_t port() const { return listener_.address().port(); }

 private:
  void run() {
    while (!stopping_) {
      try {
        if (!listener_.poll(Poco::Timespan(0, 50'000), Poco::Net::Socket::SELECT_READ)) continue;
        Poco::Net::StreamSocket socket = listener_.acceptConnection();
        socket.setSendTimeout(Poco::Timespan(2, 0));
        handler_(socket, stopping_);
      } catch (const Poco::Exception&) {
        // The client left; serve the next one.
      }
    }
  }

  Poco::Net::ServerSocket listener_;
  Handler handler_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // last: starts once everything above exists
};

// Writes all of `data`; MSG_NOSIGNAL so a client that left cannot SIGPIPE us.
inline void send_text(Poco::Net::StreamSocket& socket, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const int n =
        socket.sendBytes(data.data() + sent, static_cast<int>(data.size() - sent), MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

// A complete response with a Content-Length body.
inline std::string response(int status, const std::string& body,
                            const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" +
         extra_headers + "\r\n" + body;
}

// Waits until the server stops or `limit` passed, whichever is first.
inline void wait_for_stop(const std::atomic<bool>& stopping, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!stopping && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace linewatch::test
