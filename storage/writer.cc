#include "storage/writer.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "storage/sample_row.h"

namespace linewatch {
namespace {

// Full disk and I/O errors may be eased by moving the WAL's pages into the
// file and truncating it; a locked database would only make the checkpoint wait.
bool checkpoint_may_help(int code) {
  const int primary = code & 0xff;
  return primary == SQLITE_FULL || primary == SQLITE_IOERR;
}

}  // namespace

SampleWriter::SampleWriter(Db db, const StorageOptions& options, const StoreTuning& tuning,
                           const Clock& clock)
    : options_(options),
      tuning_(tuning),
      clock_(clock),
      db_(std::move(db)),
      health_(clock.wall_now()) {
  next_retention_ = clock_.now();  // a pass at start catches up after downtime
  thread_ = std::thread([this] { run(); });
}

SampleWriter::~SampleWriter() { stop(); }

bool SampleWriter::submit(ProbeResult r) {
  std::lock_guard lk(mu_);
  if (stopping_ || queue_.size() + in_flight_ >= queue_limit()) {
    ++stats_.dropped;
    return false;
  }
  queue_.push_back({Steady::now(), std::move(r)});
  ++stats_.submitted;
  // The idle writer only needs waking when a deadline or a full batch appears.
  if (queue_.size() == 1 || queue_.size() >= options_.batch_max) work_cv_.notify_one();
  return true;
}

bool SampleWriter::flush(Duration timeout) {
  std::unique_lock lk(mu_);
  const std::uint64_t target = stats_.submitted;
  ++flushers_;
  work_cv_.notify_one();
  auto done = [&] { return processed_ >= target || exited_; };
  // wait_for(Duration::max()) would overflow the deadline; a year means "forever" here.
  if (timeout >= std::chrono::hours(24 * 365))
    done_cv_.wait(lk, done);
  else
    done_cv_.wait_for(lk, timeout, done);
  --flushers_;
  // Rows commit in submit order and are only lost at exit, after every commit,
  // so the first `written` accepted rows are exactly the committed ones.
  return stats_.written >= target;
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

void SampleWriter::report(const std::optional<StoreEvent>& ev) const {
  if (ev && tuning_.on_state_change) tuning_.on_state_change(*ev);
}

void SampleWriter::run() {
  std::vector<ProbeResult> backlog;  // the batch being written; kept across retries
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
    else
      retention_step();
  }
}

SampleWriter::Work SampleWriter::wait_for_work(std::unique_lock<std::mutex>& lk,
                                               const std::vector<ProbeResult>& backlog) {
  for (;;) {
    const auto now = Steady::now();
    if (!backlog.empty()) return wait_for_retry(lk);  // nothing else until it is written
    if (!queue_.empty()) {
      const auto deadline = queue_.front().at + options_.flush_interval;
      if (queue_.size() >= options_.batch_max || stopping_ || flushers_ > 0 || now >= deadline)
        return Work::batch;
    } else if (stopping_) {
      return Work::exit;
    }
    if (retention_due()) return Work::retention;
    auto until = now + tuning_.idle_poll;
    if (!queue_.empty()) until = std::min(until, queue_.front().at + options_.flush_interval);
    work_cv_.wait_until(lk, until);
  }
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

void SampleWriter::take_batch(std::vector<ProbeResult>& backlog) {
  const std::size_t n = std::min(queue_.size(), std::max<std::size_t>(options_.batch_max, 1));
  backlog.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    backlog.push_back(std::move(queue_.front().result));
    queue_.pop_front();
  }
  in_flight_ += n;
}

void SampleWriter::write(std::vector<ProbeResult>& backlog) {
  std::optional<StoreEvent> ev;
  int last_code = 0;
  {
    std::lock_guard lk(mu_);
    last_code = health_.last_code();
  }
  if (failures_ > 0 && checkpoint_may_help(last_code)) checkpoint();
  const Status s = write_batch(backlog);
  if (s && (failures_ > 0 || wal_needs_truncate()))
    checkpoint();  // give back what the episode took
  {
    std::lock_guard lk(mu_);
    if (s) {
      const std::size_t n = backlog.size();
      stats_.written += n;
      ++stats_.batches;
      processed_ += n;
      in_flight_ -= n;
      failures_ = 0;
      backlog.clear();
      ev = health_.committed(Steady::now(), clock_.wall_now(), stats_.dropped, stats_.write_errors);
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
}

std::optional<StoreEvent> SampleWriter::note_error(const Error& e) {
  ++stats_.write_errors;
  stats_.last_error = e.message;
  return health_.failed(e, db_.path(), Steady::now(), clock_.wall_now(), stats_.dropped,
                        stats_.write_errors);
}

void SampleWriter::give_up(std::vector<ProbeResult>& backlog) {
  const std::size_t n = backlog.size() + queue_.size();
  stats_.lost += n;
  processed_ += n;
  in_flight_ = 0;
  backlog.clear();
  queue_.clear();
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
  const auto cutoff = unix_ms(clock_.wall_now() - options_.retention);
  Status s = retention_delete_ ? ok_status() : prepare();
  if (s) {
    retention_delete_->bind(1, static_cast<std::int64_t>(cutoff));
    retention_delete_->bind(2, static_cast<std::int64_t>(tuning_.retention_chunk));
    s = retention_delete_->run();
  }
  const auto deleted = s ? static_cast<std::uint64_t>(sqlite3_changes64(db_.handle())) : 0;
  // A full chunk means more may be left: continue soon, between batches.
  retention_more_ = s && deleted >= tuning_.retention_chunk;
  if (!retention_more_) next_retention_ = clock_.now() + tuning_.retention_every;
  std::optional<StoreEvent> ev;
  {
    std::lock_guard lk(mu_);
    if (s) {
      stats_.retention_deleted += deleted;
      if (!retention_more_) ++stats_.retention_runs;
    } else {
      ev = note_error(s.error());
    }
  }
  report(ev);
}

Status SampleWriter::prepare() {
  std::string insert_sql =
      std::string("INSERT INTO samples(line_id, target_id, ") + kSampleColumns + ") VALUES(?1, ?2";
  for (int i = 0; i < kSampleColumnCount; ++i) insert_sql += ", ?" + std::to_string(i + 3);
  insert_sql += ")";
  auto ins = db_.prepare(insert_sql, "insert sample");
  if (!ins) return ins.error();
  // DO UPDATE (a no-op write) rather than DO NOTHING so RETURNING yields the existing id too.
  auto line = db_.prepare(
      "INSERT INTO lines(name) VALUES(?1) ON CONFLICT(name) DO UPDATE SET name = excluded.name "
      "RETURNING id",
      "intern line name");
  if (!line) return line.error();
  auto target = db_.prepare(
      "INSERT INTO targets(name) VALUES(?1) ON CONFLICT(name) DO UPDATE SET name = excluded.name "
      "RETURNING id",
      "intern target name");
  if (!target) return target.error();
  auto del = db_.prepare(
      "DELETE FROM samples WHERE id IN (SELECT id FROM samples WHERE ts_ms < ?1 LIMIT ?2)",
      "retention delete");
  if (!del) return del.error();
  insert_ = std::move(*ins);
  line_upsert_ = std::move(*line);
  target_upsert_ = std::move(*target);
  retention_delete_ = std::move(*del);
  return ok_status();
}

Result<std::int64_t> SampleWriter::intern(Stmt& upsert,
                                          std::unordered_map<std::string, std::int64_t>& cache,
                                          const std::string& name) {
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  upsert.bind(1, std::string_view(name));
  auto row = upsert.step();
  if (!row) {
    upsert.reset();
    return row.error();
  }
  const std::int64_t id = upsert.column_int(0);
  upsert.reset();
  cache.emplace(name, id);
  return id;
}

Status SampleWriter::write_batch(const std::vector<ProbeResult>& batch) {
  if (!insert_) {
    if (auto s = prepare(); !s) return s;
  }
  // Ids interned in a transaction that rolls back do not exist: forget them all.
  auto fail = [this](const Error& e) -> Status {
    line_ids_.clear();
    target_ids_.clear();
    return e;
  };
  auto tx = Transaction::begin(db_);
  if (!tx) return fail(tx.error());
  for (const ProbeResult& r : batch) {
    auto line = intern(*line_upsert_, line_ids_, r.line);
    if (!line) return fail(line.error());
    auto target = intern(*target_upsert_, target_ids_, r.target);
    if (!target) return fail(target.error());
    insert_->bind(1, *line);
    insert_->bind(2, *target);
    bind_sample(*insert_, 3, r);
    if (auto s = insert_->run(); !s) return fail(s.error());
  }
  if (auto s = tx->commit(); !s) return fail(s.error());
  return ok_status();
}

}  // namespace linewatch
