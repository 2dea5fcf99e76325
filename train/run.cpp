// train/run.cpp — see run.h.
#include "train/run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/safetensors.h"
#include "layers/checkpoint.h"

namespace ff {

namespace fs = std::filesystem;

namespace {

const char* const kState = "last.state.safetensors";
const char* const kModelPrefix = "model.";

// "NAME.tmp.PID" (write_file_atomic's temporary) of a process that no longer runs: true.
bool stale_temporary(const std::string& name) {
  const size_t at = name.rfind(".tmp.");
  if (at == std::string::npos || at + 5 >= name.size()) return false;
  const std::string pid = name.substr(at + 5);
  if (pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9) return false;
  const pid_t p = static_cast<pid_t>(std::stol(pid));
  return p != ::getpid() && ::kill(p, 0) != 0 && errno == ESRCH;
}

// What a run folder holds, for the messages that refuse it.
std::string contents(const std::string& dir) {
  std::string s;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string()[0] != '.') s += (s.empty() ? "" : ", ") + e.path().filename().string();
  return s.empty() ? "nothing" : s;
}

}  // namespace

RunDir::RunDir(const std::string& dir, bool resume) : dir_(dir), resumed_(resume) {
  FF_CHECK(!dir.empty(), "run folder: empty path");
  std::error_code ec;
  fs::create_directories(dir + "/report", ec);
  FF_CHECK(!ec, "run folder ", dir, ": cannot create (", ec.message(), ")");
  // One process trains in a folder at a time; the lock goes with the process, however it ends.
  lock_fd_ = ::open(path(".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  FF_CHECK(lock_fd_ >= 0, "run folder ", dir, ": cannot create ", path(".lock"), " (", std::strerror(errno), ")");
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    FF_FAIL("run folder ", dir, ": another process is training in it (", path(".lock"), " is locked)");
  }
  // A constructor that throws runs no destructor: the lock is released here on every refusal.
  try {
    check_folder(resume);
  } catch (...) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw;
  }
}

void RunDir::check_folder(bool resume) {
  const std::string& dir = dir_;
  std::error_code ec;
  for (const std::string& d : {dir, dir + "/report"})
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.is_regular_file(ec) && stale_temporary(e.path().filename().string()) && fs::remove(e.path(), ec))
        ++stale_removed_;
  if (resume) {
    FF_CHECK(fs::exists(path(kState)), "--resume: ", dir, " holds no checkpoint (", kState, " is missing; the folder holds ",
             contents(dir), "). A run stopped before its first checkpoint starts again without --resume");
  } else {
    FF_CHECK(!has_checkpoint(), dir, " already holds a run (", fs::exists(path(kState)) ? kState : "last.safetensors",
             "): pass --resume to continue it, or choose another --out");
  }
}

RunDir::~RunDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

SafeTensors checkpoint_weights(const SafeTensors& state, const std::string& dir) {
  SafeTensors w;
  w.metadata = state.metadata;
  for (auto& [k, v] : state.tensors)
    if (k.rfind(kModelPrefix, 0) == 0) w.tensors.emplace_back(k.substr(6), v);
  if (!w.tensors.empty()) return w;
  const std::string weights_path = dir + "/last.safetensors";
  FF_CHECK(fs::exists(weights_path), dir, ": ", kState, " holds no weights and last.safetensors is missing; cannot resume");
  w = read_safetensors(weights_path);
  FF_CHECK(w.metadata.count("step") && state.metadata.count("step") && w.metadata.at("step") == state.metadata.at("step"),
           dir, ": last.safetensors and ", kState, " are from different steps; refusing to resume");
  return w;
}

bool RunDir::has_checkpoint() const { return fs::exists(path(kState)) || fs::exists(path("last.safetensors")); }

std::map<std::string, std::string> RunDir::checkpoint_metadata() const {
  return read_safetensors(path(kState)).metadata;
}

namespace {
Tensor scalar64(double v) { return Tensor::scalar(v, DType::F64); }
}  // namespace

void RunDir::save(const std::string& name, Module& model, const std::map<std::string, std::string>& model_meta,
                  const Optimizer& opt, const LRScheduler* sched, const ReduceLROnPlateau* plateau,
                  const TrainState& s) const {
  std::map<std::string, std::string> meta = model_meta;
  meta["step"] = std::to_string(s.step);
  if (name != "last") {  // "best": the weights alone
    save_module(path(name + ".safetensors"), model, meta);
    return;
  }
  std::vector<std::pair<std::string, Tensor>> t;
  for (auto& [k, v] : model.state_dict()) t.emplace_back(kModelPrefix + k, *v);
  for (auto& [k, v] : opt.state_tensors()) t.emplace_back("optimizer." + k, v);
  if (sched)
    for (auto& [k, v] : sched->state_tensors()) t.emplace_back("scheduler." + k, v);
  if (plateau)
    for (auto& [k, v] : plateau->state_tensors()) t.emplace_back("plateau." + k, v);
  // Integers that may exceed 2^53 travel as int64 tensors, the rest as float64.
  t.emplace_back("run.epoch", Tensor::from_vector<int64_t>({s.epoch}, {}));
  t.emplace_back("run.batch_in_epoch", Tensor::from_vector<int64_t>({s.batch_in_epoch}, {}));
  t.emplace_back("run.step", Tensor::from_vector<int64_t>({s.step}, {}));
  t.emplace_back("run.rng_seed", Tensor::from_vector<int64_t>({static_cast<int64_t>(s.rng_seed)}, {}));
  t.emplace_back("run.rng_offset", Tensor::from_vector<int64_t>({static_cast<int64_t>(s.rng_offset)}, {}));
  t.emplace_back("run.best_metric", scalar64(s.best_metric));
  t.emplace_back("run.has_best", scalar64(s.has_best ? 1 : 0));
  for (auto& [k, v] : s.scalars) t.emplace_back("scalar." + k, scalar64(v));
  // The checkpoint first; the model file for the other commands second (see run.h).
  write_safetensors(path(kState), t, meta);
  save_module(path("last.safetensors"), model, meta);
}

TrainState RunDir::load(const std::string& name, Module& model, Optimizer& opt, LRScheduler* sched,
                        ReduceLROnPlateau* plateau) const {
  FF_CHECK(name == "last", "RunDir::load: only the checkpoint \"last\" can be resumed, not '", name, "'");
  const std::string state_path = path(kState), weights_path = path("last.safetensors");
  SafeTensors st = read_safetensors(state_path);
  FF_CHECK(st.metadata.count("step"), state_path, ": no \"step\" in its metadata: not a faceforge checkpoint");
  bool self_contained = false;
  for (auto& [k, v] : st.tensors) self_contained = self_contained || k.rfind(kModelPrefix, 0) == 0;
  SafeTensors w = checkpoint_weights(st, dir_);  // model.* of the state file, or (older format) last.safetensors
  load_module(model, w, true, state_path);
  std::vector<std::pair<std::string, Tensor>> o, sc, pl;
  TrainState s;
  auto i64 = [&](const char* k) { return static_cast<int64_t>(st.at(k).to_vector<int64_t>()[0]); };
  for (auto& [k, v] : st.tensors) {
    if (k.rfind("optimizer.", 0) == 0) o.emplace_back(k.substr(10), v);
    else if (k.rfind("scheduler.", 0) == 0) sc.emplace_back(k.substr(10), v);
    else if (k.rfind("plateau.", 0) == 0) pl.emplace_back(k.substr(8), v);
    else if (k.rfind("scalar.", 0) == 0) s.scalars[k.substr(7)] = v.item();
  }
  opt.load_state(o);
  if (sched) sched->load_state(sc);
  if (plateau) plateau->load_state(pl);
  s.epoch = i64("run.epoch");
  s.batch_in_epoch = i64("run.batch_in_epoch");
  s.step = i64("run.step");
  s.rng_seed = static_cast<uint64_t>(i64("run.rng_seed"));
  s.rng_offset = static_cast<uint64_t>(i64("run.rng_offset"));
  s.best_metric = st.at("run.best_metric").item();
  s.has_best = st.at("run.has_best").item() != 0;
  FF_CHECK(std::to_string(s.step) == st.metadata.at("step"), state_path, ": run.step ", s.step,
           " disagrees with the metadata's step ", st.metadata.at("step"));
  // A process stopped between the two writes of a checkpoint left last.safetensors a checkpoint
  // behind (or missing): written again from the state, so every file of the folder agrees.
  if (self_contained) {
    bool stale = true;
    if (fs::exists(weights_path)) {
      try {
        const SafeTensors old = read_safetensors(weights_path);
        stale = !old.metadata.count("step") || old.metadata.at("step") != st.metadata.at("step");
      } catch (const Error&) {
        stale = true;
      }
    }
    if (stale) save_module(weights_path, model, st.metadata);
  }
  return s;
}

// ---------------------------------------------------------------------------------------- CsvLog

namespace {
// Writes all of `s` to fd, or throws naming the file.
void write_all(int fd, const std::string& s, const std::string& path) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t w = ::write(fd, s.data() + done, s.size() - done);
    if (w < 0 && errno == EINTR) continue;
    FF_CHECK(w > 0, path, ": write failed (", w < 0 ? std::strerror(errno) : "no progress",
             "); stopping: the log would be incomplete");
    done += static_cast<size_t>(w);
  }
}
}  // namespace

CsvLog::CsvLog(const std::string& path, const std::vector<std::string>& columns, bool append, int64_t keep_until)
    : path_(path), ncols_(columns.size()) {
  std::string header;
  for (size_t i = 0; i < columns.size(); ++i) header += (i ? "," : "") + columns[i];
  std::string text = header + "\n";
  if (append && fs::exists(path)) {
    const std::string old = read_file(path);
    if (!old.empty()) {
      // Lines ending in '\n' only: a last line without one is a row torn by a kill.
      size_t step_col = columns.size();
      for (size_t i = 0; i < columns.size(); ++i)
        if (columns[i] == "step") step_col = i;
      size_t pos = 0;
      int64_t line_no = 0;
      while (pos < old.size()) {
        const size_t nl = old.find('\n', pos);
        if (nl == std::string::npos) break;  // torn
        const std::string line = old.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        if (line_no == 1) {
          FF_CHECK(line == header, path, ":1: existing log has columns '", line, "', expected '", header, "'");
          continue;
        }
        std::vector<std::string> cells;
        std::stringstream ss(line);
        for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
        if (cells.size() != columns.size()) continue;  // not a row this log writes
        if (keep_until >= 0 && step_col < cells.size()) {
          const std::string& c = cells[step_col];
          char* end = nullptr;
          const double step = std::strtod(c.c_str(), &end);
          FF_CHECK(!c.empty() && end == c.c_str() + c.size() && std::isfinite(step), path, ":", line_no,
                   ": the step '", c, "' is not a number");
          if (step > static_cast<double>(keep_until)) continue;
        }
        text += line + "\n";
      }
    }
  }
  // Header and kept rows replace the file in one rename: a kill here leaves the old log or the new.
  write_file_atomic(path, text, "log");
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  FF_CHECK(fd_ >= 0, path, ": cannot open the log for appending (", std::strerror(errno), ")");
}

CsvLog::~CsvLog() {
  if (fd_ >= 0) ::close(fd_);
}

void CsvLog::row(const std::vector<double>& values) {
  FF_CHECK(values.size() == ncols_, path_, ": row of ", values.size(), " values for ", ncols_, " columns");
  std::string line;
  char buf[64];
  for (size_t i = 0; i < values.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%.9g", values[i]);
    line += (i ? "," : "");
    line += buf;
  }
  line += "\n";
  write_all(fd_, line, path_);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace ff
