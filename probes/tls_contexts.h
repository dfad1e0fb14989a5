// TlsContexts: the client TLS contexts of the HTTP and LLM probes, one per
// distinct TLS setting, built on first use and shared by every round with
// that setting.
//
// Why: building a context loads its CA store (the system bundle is some 140
// certificates, parsed from PEM), which cost more CPU than the handshake it
// served. A context holds only what every round of a setting shares: the
// verify mode, the CA store and the options below. What differs per
// connection (SNI, the host-name check) is set on the session, not here.
//
// Honest timings: every round still does a full handshake. Client session
// caching is off and tickets are refused (SSL_SESS_CACHE_OFF, SSL_OP_NO_TICKET),
// and no session is ever handed to SSL_set_session, so a shared context never
// resumes a session and the tls phase always measures a full handshake.
//
// Rotation: the CA file of a setting (ca_file, or the system bundle OpenSSL
// loads when ca_file is "") is stat()ed on each get(); when its inode, size
// or modification time changed, the context is built anew from the new file.
// Rounds holding the old context keep it alive until they end.
//
// Thread-safety: get() may be called from any number of threads at once.
// Contexts are built under the object's lock, so a round that needs a
// context being built waits for it (once per setting and CA file version);
// a returned context is configured and only used for SSL_new, which OpenSSL
// allows from many threads at once.
//
// Ownership: the agent (or a benchmark, or a test) owns one TlsContexts and
// hands its address to each round in ProbeRequest::tls; it must outlive the
// rounds. The contexts it returns are shared: each holder keeps one alive.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "probes/socket.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace linewatch {

// What goes into a client context. tls_verify and ca_file as in HttpOptions
// and LlmOptions.
struct TlsSetting {
  bool verify = true;
  std::string ca_file;  // "" = the system store
  auto operator<=>(const TlsSetting&) const = default;
};

using TlsContextPtr = std::shared_ptr<ssl_ctx_st>;

// Builds a fresh client context for `setting`, not cached. Success: a
// configured context. Failure: tls, naming the ca_file (or the system store)
// that could not be loaded.
Outcome<TlsContextPtr> make_tls_context(const TlsSetting& setting);

class TlsContexts {
 public:
  TlsContexts() = default;
  TlsContexts(const TlsContexts&) = delete;
  TlsContexts& operator=(const TlsContexts&) = delete;

  // The context for `setting`: the cached one when its CA file is unchanged,
  // else a new one (then cached). Failure: as make_tls_context(); nothing is
  // cached, so the next round tries again (a CA file being written).
  Outcome<TlsContextPtr> get(const TlsSetting& setting);

  // How many contexts have been built so far (each first use of a setting
  // and each reload of a changed CA file): for tests and the agent's health.
  std::size_t builds() const;

 private:
  // Identity of the CA file a context was built from; all zero when the
  // setting loads none (verify off) or the file could not be stat()ed.
  struct FileStamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    timespec mtime{};
    bool operator==(const FileStamp& o) const;
  };
  struct Entry {
    FileStamp stamp;
    TlsContextPtr context;
  };
  static FileStamp stamp_of(const TlsSetting& setting);

  mutable std::mutex mu_;
  std::map<TlsSetting, Entry> entries_;  // guarded by mu_; one per setting seen
  std::size_t builds_ = 0;               // guarded by mu_
};

}  // namespace linewatch
