// models/onnx_export.h — our networks as ONNX files (opset 17, IR version 8), for ONNX Runtime,
// TensorRT, insightface's tools and the rest of the ecosystem.
//
// How: the network runs one forward in eval mode on the CPU at batch 2 under a Tracer
// (engine/trace.h); every op it calls becomes one or a few ONNX nodes (docs/onnx.md has the
// table), its parameters and buffers become initializers under their checkpoint names, and the
// batch dimension is symbolic ("N"), so any batch runs. Nothing is written unless the whole graph
// maps exactly: an op without a mapping, a batch norm in training mode, a reshape that would fix
// the batch, a model kind without a convention, all are refused with a message naming what and
// why; the graph then passes onnx::checker before it is written (atomically).
//
// Conventions (inputs float32 NCHW, normalized as the pipeline feeds the network):
//   embedding  input "data" N x 3 x S x S (S: the model's input size), output "embedding" N x D
//              (insightface's: the raw embedding, not normalized; cosine similarity normalizes)
//   hourglass  input "data" N x 3 x S x S, output "heatmaps" N x K x S/4 x S/4 (the last stack's)
//   resnet     input "data" N x 3 x S x S, output "output" (logits, or features without fc)
//   detector   input "data" N x 3 x H x W (its training input size, or input_size), outputs
//              "heatmap" (logits), "size", "offset", "landmarks", each at stride 4
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"
#include "models/factory.h"

namespace ff {

struct OnnxExportOptions {
  int64_t input_size = 0;  // the input side; 0: the model's (detector: its training crops')
};

struct OnnxExportResult {
  std::string kind;                                    // the model's kind
  Shape input_shape;                                   // with batch 1
  std::vector<std::pair<std::string, Shape>> outputs;  // names and shapes (batch 1)
  int64_t nodes = 0, initializers = 0, bytes = 0;
  std::vector<std::pair<std::string, int64_t>> op_counts;  // ONNX op type -> nodes
};

// Whether this build can write ONNX (Debian libonnx-dev at configure time).
bool onnx_export_available();

// The input shape (batch 1) the export uses for this model; ff::Error for kinds it refuses.
Shape onnx_input_shape(const LoadedModel& model, const OnnxExportOptions& options = {});

// Exports `model` (any device; traced on the CPU, which moves it there) to `path`.
OnnxExportResult export_onnx(LoadedModel& model, const std::string& path, const OnnxExportOptions& options = {});

// The model's outputs on x (eval mode, no gradient) under the export's names and order, so a
// caller can compare them with an ONNX runtime's.
std::vector<std::pair<std::string, Tensor>> onnx_outputs(LoadedModel& model, const Tensor& x);

}  // namespace ff
