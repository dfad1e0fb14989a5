#include "probes/tls_contexts.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdlib>

namespace linewatch {
namespace {

std::string openssl_error(const char* fallback) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return fallback;
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  return text;
}

// The bundle SSL_CTX_set_default_verify_paths() loads: $SSL_CERT_FILE, else
// OpenSSL's built-in default (on Debian /usr/lib/ssl/cert.pem, a link to
// ca-certificates' bundle).
std::string system_ca_file() {
  const char* env = std::getenv(X509_get_default_cert_file_env());
  return env != nullptr ? env : X509_get_default_cert_file();
}

}  // namespace

Outcome<TlsContextPtr> make_tls_context(const TlsSetting& setting) {
  TlsContextPtr ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) return ProbeFailure{Reason::tls, "tls context: " + openssl_error("cannot create")};
  // Many servers close without a close_notify; the HTTP framing, not the TLS
  // layer, decides whether a response was complete.
  // No tickets and no client session cache: a shared context must never
  // resume, so that each round's tls phase is a full handshake.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  if (!setting.verify) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  const bool loaded =
      setting.ca_file.empty()
          ? SSL_CTX_set_default_verify_paths(ctx.get()) == 1
          : SSL_CTX_load_verify_locations(ctx.get(), setting.ca_file.c_str(), nullptr) == 1;
  if (!loaded) {
    const std::string ca =
        setting.ca_file.empty() ? "system CA store" : "ca_file " + setting.ca_file;
    return ProbeFailure{Reason::tls, "tls context (" + ca + "): " + openssl_error("cannot load")};
  }
  return ctx;
}

bool TlsContexts::FileStamp::operator==(const FileStamp& o) const {
  return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
         mtime.tv_nsec == o.mtime.tv_nsec;
}

TlsContexts::FileStamp TlsContexts::stamp_of(const TlsSetting& setting) {
  FileStamp stamp;
  if (!setting.verify) return stamp;
  struct stat st {};
  const std::string file = setting.ca_file.empty() ? system_ca_file() : setting.ca_file;
  if (::stat(file.c_str(), &st) != 0) return stamp;
  stamp.dev = st.st_dev;
  stamp.ino = st.st_ino;
  stamp.size = st.st_size;
  stamp.mtime = st.st_mtim;
  return stamp;
}

Outcome<TlsContextPtr> TlsContexts::get(const TlsSetting& setting) {
  // One stat() per round, outside the lock: far cheaper than a context, and
  // what lets a rotated CA file take effect on the next round.
  const FileStamp stamp = stamp_of(setting);
  std::lock_guard lock(mu_);
  auto it = entries_.find(setting);
  if (it != entries_.end() && it->second.stamp == stamp) return it->second.context;
  Outcome<TlsContextPtr> built = make_tls_context(setting);
  if (!built.ok()) return built;
  ++builds_;
  entries_.insert_or_assign(setting, Entry{stamp, built.value()});
  return built;
}

std::size_t TlsContexts::builds() const {
  std::lock_guard lock(mu_);
  return builds_;
}

}  // namespace linewatch
