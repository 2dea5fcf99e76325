// train/run.cpp — see run.h.
#include "train/run.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "engine/safetensors.h"
#include "layers/checkpoint.h"

namespace ff {

namespace fs = std::filesystem;

RunDir::RunDir(const std::string& dir, bool resume) : dir_(dir), resumed_(resume) {
  FF_CHECK(!dir.empty(), "run folder: empty path");
  std::error_code ec;
  fs::create_directories(dir + "/report", ec);
  FF_CHECK(!ec, "run folder ", dir, ": cannot create (", ec.message(), ")");
  if (resume)
    FF_CHECK(has_checkpoint(), "--resume: ", dir, " holds no checkpoint (last.safetensors)");
  else
    FF_CHECK(!has_checkpoint(), dir, " already holds a run (last.safetensors): pass --resume to continue it, or choose another --out");
}

bool RunDir::has_checkpoint() const { return fs::exists(path("last.safetensors")); }

namespace {
Tensor scalar64(double v) { return Tensor::scalar(v, DType::F64); }
}  // namespace

void RunDir::save(const std::string& name, Module& model, const std::map<std::string, std::string>& model_meta,
                  const Optimizer& opt, const LRScheduler* sched, const ReduceLROnPlateau* plateau,
                  const TrainState& s) const {
  std::map<std::string, std::string> meta = model_meta;
  meta["step"] = std::to_string(s.step);
  save_module(path(name + ".safetensors"), model, meta);
  std::vector<std::pair<std::string, Tensor>> t;
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
  write_safetensors(path(name + ".state.safetensors"), t, {{"step", std::to_string(s.step)}});
}

TrainState RunDir::load(const std::string& name, Module& model, Optimizer& opt, LRScheduler* sched,
                        ReduceLROnPlateau* plateau) const {
  SafeTensors w = read_safetensors(path(name + ".safetensors"));
  SafeTensors st = read_safetensors(path(name + ".state.safetensors"));
  FF_CHECK(w.metadata.count("step") && st.metadata.count("step") && w.metadata.at("step") == st.metadata.at("step"),
           dir_, ": ", name, ".safetensors and ", name, ".state.safetensors are from different steps; refusing to resume");
  load_module(model, w, true, path(name + ".safetensors"));
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
  return s;
}

CsvLog::CsvLog(const std::string& path, const std::vector<std::string>& columns, bool append, int64_t keep_until)
    : path_(path), ncols_(columns.size()) {
  std::string header;
  for (size_t i = 0; i < columns.size(); ++i) header += (i ? "," : "") + columns[i];
  std::vector<std::string> kept;
  if (append && fs::exists(path)) {
    // Keep the header and the rows whose step (column "step") is <= keep_until.
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    FF_CHECK(line == header, path, ": existing log has columns '", line, "', expected '", header, "'");
    size_t step_col = 0;
    for (size_t i = 0; i < columns.size(); ++i)
      if (columns[i] == "step") step_col = i;
    while (std::getline(in, line)) {
      std::stringstream ss(line);
      std::string cell;
      for (size_t i = 0; i <= step_col && std::getline(ss, cell, ','); ++i) {
      }
      if (keep_until < 0 || (!cell.empty() && std::stoll(cell) <= keep_until)) kept.push_back(line);
    }
  }
  out_.open(path, std::ios::trunc);
  FF_CHECK(out_.good(), path, ": cannot write the log");
  out_ << header << "\n";
  for (auto& l : kept) out_ << l << "\n";
  out_.flush();
}

void CsvLog::row(const std::vector<double>& values) {
  FF_CHECK(values.size() == ncols_, path_, ": row of ", values.size(), " values for ", ncols_, " columns");
  char buf[64];
  for (size_t i = 0; i < values.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%.9g", values[i]);
    out_ << (i ? "," : "") << buf;
  }
  out_ << "\n";
  out_.flush();
}

}  // namespace ff
