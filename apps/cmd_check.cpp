// apps/cmd_check.cpp — `faceforge check FILE|RUN...`: is a model file or a run folder intact?
//   faceforge check runs/embed/best.safetensors
//   faceforge check runs/embed            (every .safetensors of the folder, and what a resume needs)
// For each file: the safetensors structure (engine/safetensors.h: header, shapes against bytes,
// offsets), the CRC-32 of its data, and, for a model file or a checkpoint, that the network its
// metadata describes is built and every tensor fits it (models/factory.h). One line per file;
// exit 1 when any check fails.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "models/factory.h"

namespace {

namespace fs = std::filesystem;

struct Opts {
  std::vector<std::string> paths;
  bool require_checksum = false;
};

// Checks one file; returns its one-line description (throws ff::Error on a problem).
std::string check_file(const std::string& path, bool require_checksum) {
  ff::SafeTensors st = ff::read_safetensors(path);
  FF_CHECK(!require_checksum || !st.checksum.empty(), path, ": no checksum (", ff::kChecksumKey,
           ") in its metadata: written by another tool or an older faceforge");
  int64_t bytes = 0;
  for (auto& [n, t] : st.tensors) bytes += t.nbytes();
  char size[64];
  std::snprintf(size, sizeof size, "%.2f MB", static_cast<double>(bytes) / 1e6);
  std::string line = std::to_string(st.tensors.size()) + " tensors, " + size + ", " +
                     (st.checksum.empty() ? "no checksum" : st.checksum + " verified");
  // A checkpoint (train/run.h): its weights are the model.* tensors.
  const bool checkpoint = st.has("run.step");
  if (checkpoint) {
    ff::SafeTensors w;
    w.metadata = st.metadata;
    for (auto& [n, t] : st.tensors)
      if (n.rfind("model.", 0) == 0) w.tensors.emplace_back(n.substr(6), t);
    line += ", checkpoint at step " + std::to_string(st.at("run.step").to_vector<int64_t>()[0]);
    if (w.tensors.empty()) {
      line += " (older format: the weights are in last.safetensors)";
      return line;
    }
    st = std::move(w);
  }
  if (st.metadata.count("model")) {
    ff::LoadedModel m = ff::load_model(st, path);
    line += ", " + m.kind + " model (" + (m.meta.count("config") ? m.meta.at("config") : std::string("?")) + ")" +
            (m.has_head() ? " with its head" : "") + ", " + std::to_string(m.module->num_parameters()) +
            " parameters";
  }
  return line;
}

ff::app::Command reg("check", "Check model files and run folders: structure, checksum, that the network loads",
                     [](CLI::App& sub) {
  auto o = std::make_shared<Opts>();
  sub.footer(
      "A file passes when its safetensors header and offsets are consistent, its data matches the\n"
      "CRC-32 faceforge stores in the metadata (ff.data_crc32; files of other tools have none and\n"
      "pass with \"no checksum\" unless --require-checksum), and, when its metadata names a model\n"
      "(or it is a checkpoint, last.state.safetensors), the network is built from the metadata and\n"
      "every tensor fits it. A folder: every .safetensors in it, plus what --resume needs\n"
      "(last.state.safetensors). Exit status 1 when any check fails.");
  sub.add_option("PATH", o->paths, "Model files, checkpoint files or run folders")->required()->check(CLI::ExistingPath);
  sub.add_flag("--require-checksum", o->require_checksum, "A file without a checksum fails");
  return [o] {
    int failed = 0, checked = 0;
    auto run = [&](const std::string& p) {
      ++checked;
      try {
        std::printf("%s: ok: %s\n", p.c_str(), check_file(p, o->require_checksum).c_str());
      } catch (const std::exception& e) {
        ++failed;
        std::printf("%s: FAILED: %s\n", p.c_str(), e.what());
      }
      std::fflush(stdout);
    };
    for (const std::string& p : o->paths) {
      if (!fs::is_directory(p)) {
        run(p);
        continue;
      }
      std::vector<std::string> files;
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file() && e.path().extension() == ".safetensors") files.push_back(e.path().string());
      std::sort(files.begin(), files.end());
      for (const std::string& f : files) run(f);
      if (fs::exists(fs::path(p) / "last.safetensors") && !fs::exists(fs::path(p) / "last.state.safetensors")) {
        ++failed;
        std::printf("%s: FAILED: last.state.safetensors is missing: --resume cannot continue this run\n", p.c_str());
      }
      if (files.empty()) {
        ++failed;
        std::printf("%s: FAILED: no .safetensors files in this folder\n", p.c_str());
      }
    }
    std::printf("%d files checked, %d problems\n", checked, failed);
    return failed ? 1 : 0;
  };
});

}  // namespace
