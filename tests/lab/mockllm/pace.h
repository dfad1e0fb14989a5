// Internal to mockllm: waiting inside one request — until a time, until the
// server stops, or until the client hangs up, whichever comes first — so a
// long time to first token or a stall frees its thread as soon as the client
// gives up.
//
// Thread-safety: a Pacer belongs to one request thread.
#pragma once

#include <Poco/Net/StreamSocket.h>

#include "core/time.h"
#include "tests/lab/mockllm/state.h"

namespace linewatch::mockllm {

enum class Wake { due, stopping, client_gone };

class Pacer {
 public:
  // Both must outlive the Pacer.
  Pacer(const SharedState& state, const Poco::Net::StreamSocket& socket)
      : state_(state), socket_(socket) {}

  // Wake::due at `until`; earlier with stopping or client_gone. A hang-up is
  // noticed within one slice (50 ms) of it.
  Wake wait_until(MonoTime until) const;

  // The peer has closed or shut down its side (POLLRDHUP), without reading
  // from the socket. A client that half-closes after its request counts as gone.
  bool client_gone() const;

 private:
  const SharedState& state_;
  const Poco::Net::StreamSocket& socket_;
};

}  // namespace linewatch::mockllm
