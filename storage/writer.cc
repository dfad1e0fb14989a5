#include "storage/writer.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "core/round_codec.h"

namespace linewatch {
namespace {

// Full disk and I/O errors may be eased by moving the WAL's pages into the
// file and truncating it; a locked database would only make the checkpoint wait.
bool checkpoint_may_help(int code) {
  const int primary = code & 0xff;
  return primary == SQLITE_FULL || primary == SQLITE_IOERR;
}

// The WriterStats counters of each SampleWriter::Row alternative, in its order.
struct Counters {
  std::uint64_t WriterStats::*submitted;
  std::uint64_t WriterStats::*dropped;
  std::uint64_t WriterStats::*written;
  std::uint64_t WriterStats::*lost;
};
constexpr Counters kCounters[] = {
    {&WriterStats::submitted, &WriterStats::dropped, &WriterStats::written, &WriterStats::lost},
    {&WriterStats::events_submitted, &WriterStats::events_dropped, &WriterStats::events_written,
     &WriterStats::events_lost},
    {&WriterStats::bandwidth_submitted, &WriterStats::bandwidth_dropped,
     &WriterStats::bandwidth_written, &WriterStats::bandwidth_lost},
};
static_assert(std::size(kCounters) == std::variant_size_v<SampleWriter::Row>);

// `kind`: the index of a Row, or of the queued row it became.
const Counters& counters(std::size_t kind) { return kCounters[kind]; }

// What `s` holds on the heap: nothing while it fits the string itself.
std::size_t heap_bytes(const std::string& s) {
  return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}
template <class T>
std::size_t heap_bytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}
std::size_t heap_bytes(const Event& e) {
  return heap_bytes(e.kind) + heap_bytes(e.line) + heap_bytes(e.target) + heap_bytes(e.reason) +
         heap_bytes(e.detail);
}
std::size_t heap_bytes(const BandwidthSample& b) { return heap_bytes(b.line); }

}  // namespace

SampleWriter::SampleWriter(Db db, const StorageOptions& options, const StoreTuning& tuning,
                           const Clock& clock)
    : options_(options),
      tuning_(tuning),
      clock_(clock),
      db_(std::move(db)),
      statements_(db_, tuning.rollups),
      health_(clock.wall_now()) {
  next_retention_ = clock_.now();  // a pass at start catches up after downtime
  thread_ = std::thread([this] { run(); });
}

SampleWriter::~SampleWriter() { stop(); }

bool SampleWriter::submit(Row in) {
  const Counters& c = counters(in.index());
  QueuedRow row = queued(std::move(in));  // encoded before the lock: ~100 ns a round
  const std::size_t bytes = queued_bytes(row);
  std::lock_guard lk(mu_);
  if (stopping_ || queue_.size() + in_flight_ >= queue_limit()) {
    ++(stats_.*c.dropped);
    return false;
  }
  queue_.push_back({Steady::now(), std::move(row)});
  ++(stats_.*c.submitted);
  ++accepted_;
  queued_bytes_ += bytes;
  // The idle writer only needs waking when a deadline or a full batch appears.
  if (queue_.size() == 1 || queue_.size() >= options_.batch_max) work_cv_.notify_one();
  return true;
}

bool SampleWriter::save_state(std::string key, std::string value) {
  const WallTime at = clock_.wall_now();
  std::lock_guard lk(mu_);
  const auto it = state_.find(key);
  const bool full = state_.size() >= std::max<std::size_t>(tuning_.state_keys, 1);
  if (stopping_ || (it == state_.end() && full)) {
    ++stats_.state_dropped;
    return false;
  }
  ++stats_.state_saved;
  ++state_seq_;
  if (it != state_.end()) {  // the older value was never written: only the newest matters
    it->second = {std::move(value), at};
    ++stats_.state_coalesced;
    return true;
  }
  if (state_.empty()) {
    state_since_ = Steady::now();
    work_cv_.notify_one();
  }
  state_.emplace(std::move(key), StateValue{std::move(value), at});
  return true;
}

bool SampleWriter::flush(Duration timeout) {
  std::unique_lock lk(mu_);
  const std::uint64_t rows = accepted_;
  const std::uint64_t saves = state_seq_;
  ++flushers_;
  work_cv_.notify_one();
  auto done = [&] { return (processed_ >= rows && state_done_ >= saves) || exited_; };
  // wait_for(Duration::max()) would overflow the deadline; a year means "forever" here.
  if (timeout >= std::chrono::hours(24 * 365))
    done_cv_.wait(lk, done);
  else
    done_cv_.wait_for(lk, timeout, done);
  --flushers_;
  // Rows commit in submit order and are only lost at exit, after every commit,
  // so the first `committed_` accepted rows are exactly the committed ones;
  // likewise a state snapshot holds every save made before it was taken.
  return committed_ >= rows && state_committed_ >= saves;
}

void SampleWriter::stop() {
  {
    std::lock_guard lk(mu_);
    if (!stopping_) {
      stopping_ = true;
      last_attempt_due_ = true;
      // A failure gets stop_timeout from its start, not from now: waiting
      // longer on a disk that has failed for minutes only delays the exit.
      const auto now = Steady::now();
      stop_deadline_ = now + tuning_.stop_timeout;
      if (health_.state() == StoreState::failing)
        stop_deadline_ =
            std::clamp(health_.failing_since() + tuning_.stop_timeout, now, stop_deadline_);
    }
    work_cv_.notify_all();
  }
  std::lock_guard jl(join_mu_);
  if (thread_.joinable()) thread_.join();
}

WriterStats SampleWriter::stats() const {
  std::lock_guard lk(mu_);
  WriterStats s = stats_;
  s.pending = queue_.size() + in_flight_;
  s.queued_bytes = queued_bytes_;
  s.state_pending = state_.size() + state_in_flight_;
  s.queue_limit = queue_limit();
  s.state = health_.state();
  s.since = health_.since();
  return s;
}

std::size_t SampleWriter::queue_limit() const {
  const std::size_t capacity = std::max<std::size_t>(options_.queue_capacity, 1);
  if (health_.state() == StoreState::ok) return capacity;
  return std::clamp<std::size_t>(tuning_.failing_queue, 1, capacity);
}

SampleWriter::QueuedRow SampleWriter::queued(Row row) {
  if (auto* r = std::get_if<ProbeResult>(&row)) {
    QueuedRound q{std::move(r->line), std::move(r->target), {}};
    q.bytes.reserve(128);  // one allocation for most rounds, then cut to size
    encode_round(*r, q.bytes);
    q.bytes.shrink_to_fit();
    return q;
  }
  if (auto* e = std::get_if<Event>(&row)) return std::make_unique<Event>(std::move(*e));
  return std::get<BandwidthSample>(std::move(row));
}

std::size_t SampleWriter::queued_bytes(const QueuedRow& row) {
  struct Owned {
    std::size_t operator()(const QueuedRound& q) const {
      return heap_bytes(q.line) + heap_bytes(q.target) + heap_bytes(q.bytes);
    }
    std::size_t operator()(const std::unique_ptr<Event>& e) const {
      return sizeof(Event) + heap_bytes(*e);
    }
    std::size_t operator()(const BandwidthSample& b) const { return heap_bytes(b); }
  };
  return sizeof(Pending) + std::visit(Owned{}, row);
}

void SampleWriter::report(const std::optional<StoreEvent>& ev) const {
  if (ev && tuning_.on_state_change) tuning_.on_state_change(*ev);
}

std::uint64_t SampleWriter::dropped_total() const {
  return stats_.dropped + stats_.events_dropped + stats_.bandwidth_dropped + stats_.state_dropped;
}

void SampleWriter::run() {
  Batch backlog;  // the batch being written; kept across retries
  for (;;) {
    Work w;
    {
      std::unique_lock lk(mu_);
      w = wait_for_work(lk, backlog);
      if (w == Work::exit) {
        give_up(backlog);
        exited_ = true;
        done_cv_.notify_all();
        return;
      }
      if (w == Work::batch) {
        last_attempt_due_ = false;  // this is the attempt stop() asked for
        if (backlog.empty()) take_batch(backlog);
      }
    }
    if (w == Work::batch)
      write(backlog);
    else if (w == Work::fold)
      fold();
    else
      retention_step();
  }
}

SampleWriter::Work SampleWriter::wait_for_work(std::unique_lock<std::mutex>& lk,
                                               const Batch& backlog) {
  for (;;) {
    const auto now = Steady::now();
    if (!backlog.empty()) return wait_for_retry(lk);  // nothing else until it is written
    const auto deadline = batch_deadline();
    if (deadline) {
      if (queue_.size() >= options_.batch_max || stopping_ || flushers_ > 0 || now >= *deadline)
        return Work::batch;
    } else if (stopping_) {
      // Everything is written: fold what is recent once, so the file is left
      // indexed whole, unless the database is failing.
      if (stop_folded_ || failures_ > 0 || fold_failures_ > 0 || statements_.recent_rows() == 0 ||
          !fold_fits(statements_.recent_rows()))
        return Work::exit;
      stop_folded_ = true;
      return Work::fold;
    }
    if (retention_due()) return Work::retention;
    auto until = now + tuning_.idle_poll;
    if (deadline) until = std::min(until, *deadline);
    work_cv_.wait_until(lk, until);
  }
}

std::optional<SampleWriter::Steady::time_point> SampleWriter::batch_deadline() const {
  std::optional<Steady::time_point> first;
  if (!queue_.empty()) first = queue_.front().at;
  if (!state_.empty()) first = std::min(first.value_or(state_since_), state_since_);
  if (!first) return std::nullopt;
  return *first + options_.flush_interval;
}

SampleWriter::Work SampleWriter::wait_for_retry(std::unique_lock<std::mutex>& lk) {
  for (;;) {
    const auto now = Steady::now();
    if (stopping_ && last_attempt_due_) {  // the back-off may be seconds away: try now
      last_attempt_due_ = false;
      return Work::batch;
    }
    if (stopping_ && now >= stop_deadline_) return Work::exit;
    if (now >= retry_at_) return Work::batch;
    work_cv_.wait_until(lk, stopping_ ? std::min(retry_at_, stop_deadline_) : retry_at_);
  }
}

void SampleWriter::take_batch(Batch& backlog) {
  const std::size_t n = std::min(queue_.size(), std::max<std::size_t>(options_.batch_max, 1));
  backlog.rows.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    backlog.rows.push_back(std::move(queue_.front().row));
    queue_.pop_front();
  }
  in_flight_ += n;
  // State rides along whole: it is bounded by state_keys, and each key is one row.
  backlog.state.swap(state_);
  state_in_flight_ = backlog.state.size();
  backlog.state_seq = state_seq_;
}

void SampleWriter::note_committed(Batch& backlog) {
  const std::size_t n = backlog.rows.size();
  for (const QueuedRow& row : backlog.rows) {
    ++(stats_.*counters(row.index()).written);
    queued_bytes_ -= queued_bytes(row);
  }
  ++stats_.batches;
  processed_ += n;
  committed_ += n;
  in_flight_ -= n;
  stats_.state_written += backlog.state.size();
  state_in_flight_ = 0;
  state_done_ = std::max(state_done_, backlog.state_seq);
  state_committed_ = std::max(state_committed_, backlog.state_seq);
  backlog = Batch{};
}

void SampleWriter::write(Batch& backlog) {
  std::optional<StoreEvent> ev;
  int last_code = 0;
  {
    std::lock_guard lk(mu_);
    last_code = health_.last_code();
  }
  if (failures_ > 0 && checkpoint_may_help(last_code)) checkpoint();
  const auto began = Steady::now();
  const Status s = write_batch(backlog);
  const Duration took = Steady::now() - began;
  if (s && (failures_ > 0 || wal_needs_truncate()))
    checkpoint();  // give back what the episode took
  if (s && !recent_since_ && statements_.recent_rows() > 0) recent_since_ = began;
  {
    std::lock_guard lk(mu_);
    if (s) {
      note_committed(backlog);
      stats_.batch_time_total += took;
      stats_.batch_time_max = std::max(stats_.batch_time_max, took);
      failures_ = 0;
      ev =
          health_.committed(Steady::now(), clock_.wall_now(), dropped_total(), stats_.write_errors);
      done_cv_.notify_all();
    } else {
      ev = note_error(s.error());
      // Exponential backoff so a full disk is not hammered, capped so recovery is noticed.
      Duration delay = tuning_.retry_min;
      for (int i = 1; i < failures_ && delay < tuning_.retry_max; ++i) delay *= 2;
      ++failures_;
      retry_at_ = Steady::now() + std::min(delay, tuning_.retry_max);
    }
  }
  report(ev);
  if (s && fold_due(Steady::now())) fold();
}

bool SampleWriter::fold_due(Steady::time_point now) const {
  const std::uint64_t rows = statements_.recent_rows();
  if (rows == 0 || now < fold_retry_at_) return false;
  if (rows < tuning_.fold_rows && !(recent_since_ && now - *recent_since_ >= tuning_.fold_age))
    return false;
  return fold_fits(rows);
}

// A fold writes a second copy of the recent rows (into the table, its
// indexes and the WAL) before their pages are freed, and the file keeps the
// freed pages for the next rows. On a nearly full filesystem that copy would
// take the room the next batches need, so the rows wait, recent and read as
// usual, until there is room for it: kFoldBytesPerRow a row (a row, its two
// index entries and their WAL frames, with slack) and at least wal_limit.
bool SampleWriter::fold_fits(std::uint64_t rows) const {
  constexpr std::uint64_t kFoldBytesPerRow = 512;
  std::error_code ec;
  const auto space = std::filesystem::space(std::filesystem::path(db_.path()).parent_path(), ec);
  if (ec) return true;  // unknown: try, a failed fold costs nothing committed
  return space.available >= std::max<std::uint64_t>(tuning_.wal_limit, rows * kFoldBytesPerRow);
}

// Its own transaction after a batch, so a batch never waits behind a fold
// it did not need. A fold that fails leaves the rows recent, where readers
// find them as well, so it does not make the store `failing`: the rows are
// committed. It is counted and tried again after a back-off (on a full disk a
// fold needs room for a second copy of the recent rows until it commits).
void SampleWriter::fold() {
  const auto began = Steady::now();
  auto moved = statements_.fold();
  const Duration took = Steady::now() - began;
  if (moved) {
    fold_failures_ = 0;
    recent_since_.reset();
    if (wal_needs_truncate()) checkpoint();
    std::lock_guard lk(mu_);
    ++stats_.folds;
    stats_.folded += *moved;
    stats_.fold_time_total += took;
    return;
  }
  const auto parts = split_sqlite_error(moved.error(), db_.path());
  if (parts && checkpoint_may_help(parts->code)) checkpoint();  // give the WAL's space back
  Duration delay = tuning_.retry_min;
  for (int i = 0; i < fold_failures_ && delay < tuning_.retry_max; ++i) delay *= 2;
  ++fold_failures_;
  fold_retry_at_ = Steady::now() + std::min(delay, tuning_.retry_max);
  std::lock_guard lk(mu_);
  ++stats_.fold_errors;
  stats_.last_fold_error = moved.error().message;
}

std::optional<StoreEvent> SampleWriter::note_error(const Error& e) {
  ++stats_.write_errors;
  stats_.last_error = e.message;
  return health_.failed(e, db_.path(), Steady::now(), clock_.wall_now(), dropped_total(),
                        stats_.write_errors);
}

void SampleWriter::give_up(Batch& backlog) {
  for (const QueuedRow& row : backlog.rows) ++(stats_.*counters(row.index()).lost);
  for (const Pending& p : queue_) ++(stats_.*counters(p.row.index()).lost);
  processed_ += backlog.rows.size() + queue_.size();
  queued_bytes_ = 0;
  in_flight_ = 0;
  stats_.state_lost += backlog.state.size() + state_.size();
  state_in_flight_ = 0;
  state_done_ = state_seq_;
  backlog = Batch{};
  queue_.clear();
  state_.clear();
}

// Decodes a round each time, so a batch retried after a failure is written
// from the same bytes it was the first time.
Status SampleWriter::insert(const QueuedRow& row, ProbeResult& round) {
  if (const auto* q = std::get_if<QueuedRound>(&row)) {
    if (!decode_round(q->bytes, round))  // encode_round wrote it: a bug in core/round_codec
      return Error{ErrorCode::internal, "a queued round of line " + q->line + ", target " +
                                            q->target + " does not decode"};
    round.line = q->line;
    round.target = q->target;
    return statements_.insert(round);
  }
  if (const auto* e = std::get_if<std::unique_ptr<Event>>(&row)) return statements_.insert(**e);
  return statements_.insert(std::get<BandwidthSample>(row));
}

bool SampleWriter::checkpoint() {
  if (!db_.checkpoint_truncate()) return false;  // the next attempt or commit tries again
  std::lock_guard lk(mu_);
  ++stats_.wal_checkpoints;
  return true;
}

bool SampleWriter::wal_needs_truncate() const {
  std::error_code ec;
  const auto wal = std::filesystem::file_size(db_.path() + "-wal", ec);
  if (ec || wal == 0) return false;
  if (wal > tuning_.wal_limit) return true;
  // Low on space: every page the WAL holds is one the database cannot use,
  // and WAL frames repeat pages, so keep it down to one batch.
  const auto space = std::filesystem::space(std::filesystem::path(db_.path()).parent_path(), ec);
  return !ec && space.available < tuning_.wal_limit;
}

bool SampleWriter::retention_due() const {
  return retention_more_ || clock_.now() >= next_retention_;
}

void SampleWriter::retention_step() {
  WriteStatements::Pruned pruned;
  const Status s =
      statements_.prune(clock_.wall_now(), options_.retention, tuning_.retention_chunk, pruned);
  // A full chunk means more may be left: continue soon, between batches.
  retention_more_ = s && pruned.more;
  if (!retention_more_) next_retention_ = clock_.now() + tuning_.retention_every;
  std::optional<StoreEvent> ev;
  {
    std::lock_guard lk(mu_);
    stats_.retention_deleted += pruned.deleted;
    if (!s)
      ev = note_error(s.error());
    else if (!retention_more_)
      ++stats_.retention_runs;
  }
  report(ev);
}

Status SampleWriter::write_batch(const Batch& batch) {
  auto fail = [this](const Error& e) -> Status {
    statements_.rolled_back();
    return e;
  };
  auto tx = Transaction::begin(db_);
  if (!tx) return fail(tx.error());
  ProbeResult round;  // decoded into, row after row: its strings and echoes keep their room
  for (const QueuedRow& row : batch.rows) {
    if (auto s = insert(row, round); !s) return fail(s.error());
  }
  if (auto s = statements_.write_rollups(); !s) return fail(s.error());
  for (const auto& [key, value] : batch.state) {
    if (auto s = statements_.put_state(key, value); !s) return fail(s.error());
  }
  if (auto s = tx->commit(); !s) return fail(s.error());
  return ok_status();
}

}  // namespace linewatch
