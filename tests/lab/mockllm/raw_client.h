// Test-only: one HTTP/1.1 request on a raw loopback socket whose reply is
// read piece by piece, each read stamped on the monotonic clock, so a test
// sees when bytes arrived, how the HTTP chunks were cut and whether the
// connection stays open without data.
//
// Thread-safety: one RawExchange per test thread.
#pragma once

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/time.h"
#include "tests/lab/mockllm/test_support.h"

namespace linewatch::mockllm::test {

class RawExchange {
 public:
  // Connects and writes the request (Content-Length set for a body).
  // Throws Poco::Exception when the connection fails.
  RawExchange(const Poco::Net::SocketAddress& at, const std::string& method,
              const std::string& target, const Headers& headers, const std::string& body = "")
      : socket_(at) {
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: " + at.toString() + "\r\n";
    for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
    if (!body.empty() || method == "POST")
      request +=
          "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n";
    request += "\r\n" + body;
    before_send_ = std::chrono::steady_clock::now();
    socket_.sendBytes(request.data(), static_cast<int>(request.size()));
    sent_ = std::chrono::steady_clock::now();
  }

  MonoTime before_send() const { return before_send_; }  // just before the request was written
  MonoTime sent() const { return sent_; }                // just after

  // Reads until `needle` has arrived, the peer closes or `limit` passes.
  // Returns when the read that completed the needle returned, or nullopt.
  std::optional<MonoTime> read_until(const std::string& needle, Duration limit) {
    const MonoTime deadline = std::chrono::steady_clock::now() + limit;
    while (!when(needle) && !closed_ && read_once(deadline - std::chrono::steady_clock::now())) {
    }
    return when(needle);
  }

  // Reads until the peer closes (true) or `limit` passes (false).
  bool read_to_end(Duration limit) {
    const MonoTime deadline = std::chrono::steady_clock::now() + limit;
    while (!closed_ && read_once(deadline - std::chrono::steady_clock::now())) {
    }
    return closed_;
  }

  // True when nothing at all arrives for `quiet` and the peer keeps the
  // connection open.
  bool quiet_for(Duration quiet) {
    const std::size_t before = raw_.size();
    read_once(quiet);
    return raw_.size() == before && !closed_;
  }

  // When the read that completed the first `needle` returned, or nullopt.
  std::optional<MonoTime> when(const std::string& needle) const {
    const std::size_t at = raw_.find(needle);
    if (at == std::string::npos) return std::nullopt;
    for (const auto& [end, time] : reads_)
      if (end >= at + needle.size()) return time;
    return std::nullopt;
  }

  bool closed() const { return closed_; }
  const std::string& raw() const { return raw_; }
  // The status line and headers (through the blank line), or "" until complete.
  std::string head() const {
    const std::size_t end = raw_.find("\r\n\r\n");
    return end == std::string::npos ? "" : raw_.substr(0, end + 4);
  }

  // The complete HTTP chunks of a chunked body, as the server cut them;
  // `ended` (if given) tells whether the last (empty) chunk arrived.
  std::vector<std::string> chunks(bool* ended = nullptr) const {
    std::vector<std::string> out;
    if (ended) *ended = false;
    std::size_t pos = head().size();
    if (pos == 0) return out;
    for (;;) {
      const std::size_t line_end = raw_.find("\r\n", pos);
      if (line_end == std::string::npos) break;
      const std::size_t size = std::stoul(raw_.substr(pos, line_end - pos), nullptr, 16);
      if (size == 0) {
        if (ended) *ended = raw_.compare(line_end, 4, "\r\n\r\n") == 0;
        break;
      }
      if (raw_.size() < line_end + 2 + size + 2) break;
      out.push_back(raw_.substr(line_end + 2, size));
      pos = line_end + 2 + size + 2;
    }
    return out;
  }

  std::string body() const {
    std::string all;
    for (const std::string& c : chunks()) all += c;
    return all;
  }

  void close() { socket_.close(); }

 private:
  // One read of what is available within `wait`; false when nothing came
  // (timeout) or the peer closed.
  bool read_once(Duration wait) {
    if (wait <= Duration::zero()) return false;
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(wait).count();
    if (!socket_.poll(Poco::Timespan(us), Poco::Net::Socket::SELECT_READ)) return false;
    char buf[16384];
    const int n = socket_.receiveBytes(buf, sizeof buf);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    raw_.append(buf, static_cast<std::size_t>(n));
    reads_.emplace_back(raw_.size(), std::chrono::steady_clock::now());
    return true;
  }

  Poco::Net::StreamSocket socket_;
  MonoTime before_send_{};
  MonoTime sent_{};
  std::string raw_;
  std::vector<std::pair<std::size_t, MonoTime>> reads_;  // raw_ size after each read, its time
  bool closed_ = false;
};

}  // namespace linewatch::mockllm::test
