// train/progress.h — a progress line for long-running commands: step, rate, ETA and whatever the
// caller adds (loss, lr), redrawn in place on a terminal and printed every `every` steps otherwise.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace ff {

class Progress {
 public:
  Progress(std::string what, int64_t total, const char* unit = "it")
      : what_(std::move(what)), unit_(unit), total_(total), start_(clock::now()), tty_(isatty(fileno(stderr))) {}
  // Reports that `done` units are complete; `extra` is appended (e.g. "loss 0.532 lr 0.05").
  void update(int64_t done, const std::string& extra = "") {
    double s = seconds();
    bool last = done >= total_;
    if (!last && s - last_print_ < (tty_ ? 0.2 : 5.0)) return;
    last_print_ = s;
    double rate = s > 0 ? done / s : 0;
    double eta = rate > 0 ? (total_ - done) / rate : 0;
    std::fprintf(stderr, "%s%s %lld/%lld  %.1f %s/s  ETA %s  %s%s", tty_ ? "\r\033[K" : "", what_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), rate, unit_, fmt(eta).c_str(),
                 extra.c_str(), (tty_ && !last) ? "" : "\n");
    std::fflush(stderr);
  }
  double seconds() const { return std::chrono::duration<double>(clock::now() - start_).count(); }
  static std::string fmt(double secs) {
    char b[32];
    int t = static_cast<int>(secs + 0.5);
    std::snprintf(b, sizeof b, "%d:%02d", t / 60, t % 60);
    return b;
  }

 private:
  using clock = std::chrono::steady_clock;
  std::string what_;
  const char* unit_;
  int64_t total_;
  clock::time_point start_;
  bool tty_;
  double last_print_ = -1e9;
};

}  // namespace ff
