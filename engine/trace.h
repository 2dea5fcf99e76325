// engine/trace.h — a recorder of the ops a forward runs, for exporting a network as a graph
// (models/onnx_export.h writes ONNX from it). While a Tracer is active on a thread, each traced
// op appends one TraceRecord: its name, its input tensors, its output and its attributes. Only
// the outermost op is recorded (an op that calls other ops internally is one record), so a record
// is exactly one call of the public API. Traced: conv2d, conv2d_bn_eval, batch_norm2d, relu, prelu,
// add, sigmoid, max_pool2d, adaptive_avg_pool2d_1x1, linear, l2_normalize, upsample_bilinear2d,
// Tensor::reshape (flatten is a reshape). An op that is not traced leaves its output unknown to
// the recorder, so an exporter refuses a graph that uses it rather than write a wrong one.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ff {

struct TraceRecord {
  std::string op;              // the engine's op name, e.g. "conv2d"
  std::vector<Tensor> inputs;  // undefined entries: an absent optional (bias)
  Tensor output;
  std::map<std::string, std::vector<int64_t>> ints;  // stride, pad, kernel, shape, size, ...
  std::map<std::string, double> floats;              // eps, ...
};

class Tracer {
 public:
  Tracer();   // active on this thread from construction ...
  ~Tracer();  // ... to destruction (tracers do not nest)
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;
  std::vector<TraceRecord> records;
};

// In each traced op: a scope at entry, and record() at the end when outer() (no traced op is
// running below this one on the thread and a Tracer is active).
class TraceScope {
 public:
  TraceScope();
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;
  bool outer() const { return outer_; }
  void record(TraceRecord r) const;

 private:
  bool outer_ = false;
};

}  // namespace ff
