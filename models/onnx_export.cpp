// models/onnx_export.cpp — see onnx_export.h. The op table is export_record() below.
#include "models/onnx_export.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_map>

#include "engine/autograd.h"
#include "engine/safetensors.h"
#include "engine/trace.h"

#ifdef FF_HAS_ONNX
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#endif

namespace ff {

bool onnx_export_available() {
#ifdef FF_HAS_ONNX
  return true;
#else
  return false;
#endif
}

Shape onnx_input_shape(const LoadedModel& m, const OnnxExportOptions& o) {
  FF_CHECK(o.input_size >= 0, "export: --input-size must be positive, got ", o.input_size);
  if (m.kind == "embedding" || m.kind == "resnet" || m.kind == "hourglass") {
    int64_t s = m.kind == "embedding" ? m.embedding().config().resnet.input_size
                : m.kind == "resnet"  ? m.resnet().config().input_size
                                      : m.hourglass().config().input_size;
    if (o.input_size > 0) {
      FF_CHECK(m.kind != "hourglass" || o.input_size % 4 == 0,
               "export: a hourglass's input size must be a multiple "
               "of 4 (its heatmaps are a quarter of it), got ",
               o.input_size);
      s = o.input_size;
    }
    return {1, 3, s, s};
  }
  if (m.kind == "detector") {
    int64_t s = o.input_size > 0 ? o.input_size : m.detector().config().input_size;
    FF_CHECK(s % FaceDetectorNet::kAlign == 0, "export: the detector's input size must be a multiple of ",
             FaceDetectorNet::kAlign, ", got ", s);
    return {1, 3, s, s};
  }
  FF_FAIL("export: a model of kind '", m.kind,
          "' has no ONNX convention (embedding, hourglass, resnet and detector do)");
}

namespace {

// One traced forward: the records and the outputs by export name.
struct Traced {
  std::vector<TraceRecord> records;
  std::vector<std::pair<std::string, Tensor>> outputs;
};

std::vector<std::pair<std::string, Tensor>> forward_named(LoadedModel& m, const Tensor& x) {
  if (m.kind == "hourglass") return {{"heatmaps", m.hourglass().forward_all(x).back()}};
  if (m.kind == "detector") {
    DetectorOutput o = m.detector().forward_all(x);
    return {{"heatmap", o.heatmap}, {"size", o.size}, {"offset", o.offset}, {"landmarks", o.landmarks}};
  }
  if (m.kind == "embedding") return {{"embedding", m.module->forward(x)}};
  if (m.kind == "resnet") return {{"output", m.module->forward(x)}};
  FF_FAIL("export: a model of kind '", m.kind,
          "' has no ONNX convention (embedding, hourglass, resnet and detector do)");
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> onnx_outputs(LoadedModel& m, const Tensor& x) {
  m.eval();
  NoGradGuard no_grad;
  return forward_named(m, x);
}

#ifndef FF_HAS_ONNX
OnnxExportResult export_onnx(LoadedModel&, const std::string& path, const OnnxExportOptions&) {
  FF_FAIL("export ", path,
          ": this faceforge was built without ONNX (install Debian's libonnx-dev and "
          "libprotobuf-dev, then configure again: bash scripts/setup.sh demo)");
}
#else

namespace {

class GraphBuilder {
 public:
  GraphBuilder(onnx::GraphProto& g, LoadedModel& m) : g_(g) {
    for (auto& [name, t] : m.module->state_dict()) params_[t->impl()] = {name, *t};
  }

  // The name of a tensor the graph knows (the input, an initializer, an earlier node's output);
  // a parameter or buffer becomes an initializer the first time it is read.
  std::string name_of(const Tensor& t, const TraceRecord& r, size_t k) {
    auto it = names_.find(t.impl());
    if (it != names_.end()) return it->second;
    auto p = params_.find(t.impl());
    if (p != params_.end()) {
      add_initializer(p->second.first, p->second.second);
      names_[t.impl()] = p->second.first;
      return p->second.first;
    }
    FF_FAIL("export: ", r.op, " (op ", k + 1, " of the forward) reads ", t.str(),
            ", which no traced op produced and which is not one of the model's parameters: the network uses an "
            "op the exporter does not know (engine/trace.h lists the traced ones); nothing was written");
  }
  void set_name(const Tensor& t, const std::string& n) { names_[t.impl()] = n; }
  bool known(const Tensor& t) const { return names_.count(t.impl()) > 0; }

  std::string fresh(const std::string& stem) { return stem + "_" + std::to_string(counter_++); }

  onnx::NodeProto& node(const std::string& type, const std::vector<std::string>& in,
                        const std::vector<std::string>& out) {
    onnx::NodeProto* n = g_.add_node();
    n->set_op_type(type);
    n->set_name(fresh(type));
    for (const auto& i : in) n->add_input(i);
    for (const auto& o : out) n->add_output(o);
    ++op_counts_[type];
    return *n;
  }

  void add_initializer(const std::string& name, const Tensor& t) {
    Tensor c = t.cpu();
    onnx::TensorProto* p = g_.add_initializer();
    p->set_name(name);
    for (int64_t d : c.shape()) p->add_dims(d);
    if (c.dtype() == DType::F64) c = c.to(DType::F32);
    switch (c.dtype()) {
      case DType::F32: p->set_data_type(onnx::TensorProto::FLOAT); break;
      case DType::I64: p->set_data_type(onnx::TensorProto::INT64); break;
      case DType::I32: p->set_data_type(onnx::TensorProto::INT32); break;
      case DType::U8: p->set_data_type(onnx::TensorProto::UINT8); break;
      default: FF_FAIL("export: initializer ", name, " has dtype ", dtype_name(c.dtype()));
    }
    p->set_raw_data(std::string(static_cast<const char*>(c.raw()), c.nbytes()));
  }
  std::string const_i64(const std::vector<int64_t>& v) {
    const std::string n = fresh("const");
    add_initializer(n, Tensor::from_vector(v, {static_cast<int64_t>(v.size())}));
    return n;
  }
  std::string const_f32(float v) {
    const std::string n = fresh("const");
    add_initializer(n, Tensor::from_vector(std::vector<float>{v}, {}));
    return n;
  }

  std::map<std::string, int64_t> op_counts_;

 private:
  onnx::GraphProto& g_;
  std::unordered_map<const TensorImpl*, std::string> names_;
  std::unordered_map<const TensorImpl*, std::pair<std::string, Tensor>> params_;
  int counter_ = 0;
};

void attr_ints(onnx::NodeProto& n, const char* name, const std::vector<int64_t>& v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void attr_int(onnx::NodeProto& n, const char* name, int64_t v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr_float(onnx::NodeProto& n, const char* name, double v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(static_cast<float>(v));
}
void attr_string(onnx::NodeProto& n, const char* name, const std::string& v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

int64_t attr1(const TraceRecord& r, const char* key) {
  auto it = r.ints.find(key);
  FF_CHECK(it != r.ints.end() && !it->second.empty(), "export: ", r.op, " record lacks its ", key);
  return it->second[0];
}

// One record -> ONNX nodes. The table of docs/onnx.md.
void export_record(GraphBuilder& b, const TraceRecord& r, size_t k) {
  auto in = [&](size_t i) { return b.name_of(r.inputs.at(i), r, k); };
  const std::string out = b.fresh(r.op);
  auto conv = [&](const std::string& x, const std::string& y) {
    const Tensor& w = r.inputs[1];
    std::vector<std::string> ins{x, in(1)};
    if (r.inputs[2].defined()) ins.push_back(in(2));
    onnx::NodeProto& n = b.node("Conv", ins, {y});
    const int64_t s = attr1(r, "stride"), p = attr1(r, "pad");
    attr_ints(n, "kernel_shape", {w.size(2), w.size(3)});
    attr_ints(n, "strides", {s, s});
    attr_ints(n, "pads", {p, p, p, p});
    attr_ints(n, "dilations", {1, 1});
    attr_int(n, "group", 1);
  };
  auto batch_norm = [&](const std::string& x, size_t first, const std::string& y) {
    onnx::NodeProto& n = b.node("BatchNormalization", {x, in(first), in(first + 1), in(first + 2), in(first + 3)}, {y});
    attr_float(n, "epsilon", r.floats.at("eps"));
  };
  if (r.op == "conv2d") {
    conv(in(0), out);
  } else if (r.op == "conv2d_bn_eval") {
    const std::string c = b.fresh("conv"), bn = attr1(r, "relu") ? b.fresh("bn") : out;
    conv(in(0), c);
    batch_norm(c, 3, bn);
    if (attr1(r, "relu")) b.node("Relu", {bn}, {out});
  } else if (r.op == "batch_norm2d") {
    FF_CHECK(attr1(r, "training") == 0,
             "export: a batch norm runs in training mode (batch statistics); the export "
             "needs eval mode");
    batch_norm(in(0), 1, out);
  } else if (r.op == "relu") {
    b.node("Relu", {in(0)}, {out});
  } else if (r.op == "sigmoid") {
    b.node("Sigmoid", {in(0)}, {out});
  } else if (r.op == "add") {
    b.node("Add", {in(0), in(1)}, {out});
  } else if (r.op == "prelu") {
    // Ours: one slope per channel (dim 1); ONNX PRelu broadcasts from the right: [C, 1, 1].
    const Tensor& x = r.inputs[0];
    const Tensor& w = r.inputs[1];
    Shape s{w.numel()};
    for (int64_t d = 2; d < x.dim(); ++d) s.push_back(1);
    const std::string slope = b.fresh("slope");
    b.node("Reshape", {in(1), b.const_i64(s)}, {slope});
    b.node("PRelu", {in(0), slope}, {out});
  } else if (r.op == "max_pool2d") {
    onnx::NodeProto& n = b.node("MaxPool", {in(0)}, {out});
    const int64_t kk = attr1(r, "kernel"), s = attr1(r, "stride"), p = attr1(r, "pad");
    // ONNX's ceil mode keeps a last window that starts in the right padding, which ours (and
    // PyTorch's) drops: where the sizes differ the graph would be wrong, so it is refused.
    for (int d = 2; d < 4; ++d) {
      const int64_t span = r.inputs[0].size(d) + 2 * p - kk;
      const int64_t onnx = (attr1(r, "ceil_mode") ? (span + s - 1) / s : span / s) + 1;
      FF_CHECK(onnx == r.output.size(d), "export: max_pool2d (kernel ", kk, ", stride ", s, ", pad ", p,
               ", ceil_mode) of ", r.inputs[0].str(), " gives ", r.output.str(), "; ONNX's MaxPool would give ", onnx,
               " on dimension ", d, ", so it is refused");
    }
    attr_ints(n, "kernel_shape", {kk, kk});
    attr_ints(n, "strides", {s, s});
    attr_ints(n, "pads", {p, p, p, p});
    attr_int(n, "ceil_mode", attr1(r, "ceil_mode"));
  } else if (r.op == "adaptive_avg_pool2d_1x1") {
    FF_CHECK(r.output.dim() == 4, "export: adaptive_avg_pool2d_1x1 gave ", r.output.str(), ", expected [N, C, 1, 1]");
    b.node("GlobalAveragePool", {in(0)}, {out});
  } else if (r.op == "linear") {
    FF_CHECK(r.inputs[0].dim() == 2, "export: linear on ", r.inputs[0].str(), ": only [N, in] inputs map to Gemm");
    std::vector<std::string> ins{in(0), in(1)};
    if (r.inputs[2].defined()) ins.push_back(in(2));
    onnx::NodeProto& n = b.node("Gemm", ins, {out});
    attr_int(n, "transB", 1);
  } else if (r.op == "l2_normalize") {
    // x / max(||x||, eps) row by row (ours and torch's F.normalize); LpNormalization has no eps.
    const std::string norm = b.fresh("norm"), clamped = b.fresh("clamped");
    onnx::NodeProto& n = b.node("ReduceL2", {in(0)}, {norm});
    attr_ints(n, "axes", {1});
    attr_int(n, "keepdims", 1);
    b.node("Max", {norm, b.const_f32(static_cast<float>(r.floats.at("eps")))}, {clamped});
    b.node("Div", {in(0), clamped}, {out});
  } else if (r.op == "upsample_bilinear2d") {
    // sizes = [N, C] of the input (the batch stays symbolic) + the traced [H, W]. Our kernel's
    // source coordinate is (d + 0.5) in/out - 0.5 at every size (kernels/upsample.h), which is
    // ONNX's half_pixel exactly (pytorch_half_pixel differs at an output side of 1).
    const auto& size = r.ints.at("size");
    const std::string shape = b.fresh("shape"), nc = b.fresh("nc"), sizes = b.fresh("sizes");
    b.node("Shape", {in(0)}, {shape});
    b.node("Slice", {shape, b.const_i64({0}), b.const_i64({2})}, {nc});
    onnx::NodeProto& cat = b.node("Concat", {nc, b.const_i64({size[0], size[1]})}, {sizes});
    attr_int(cat, "axis", 0);
    onnx::NodeProto& n = b.node("Resize", {in(0), "", "", sizes}, {out});
    attr_string(n, "mode", "linear");
    attr_string(n, "coordinate_transformation_mode", attr1(r, "align_corners") ? "align_corners" : "half_pixel");
  } else if (r.op == "reshape") {
    Shape s = r.ints.at("shape");
    const Tensor& x = r.inputs[0];
    FF_CHECK(!s.empty() && x.dim() >= 1 && s[0] == x.size(0), "export: a reshape from ", x.str(), " to ", shape_str(s),
             " changes the batch dimension; the exported graph's batch is symbolic, so it is refused");
    s[0] = 0;  // ONNX: copy the input's dimension (the batch)
    onnx::NodeProto& n = b.node("Reshape", {in(0), b.const_i64(s)}, {out});
    attr_int(n, "allowzero", 0);
  } else {
    FF_FAIL("export: op ", r.op, " has no ONNX mapping yet (docs/onnx.md lists the mapped ones); nothing was written");
  }
  b.set_name(r.output, out);
}

void set_value_info(onnx::ValueInfoProto& v, const std::string& name, const Shape& shape) {
  v.set_name(name);
  onnx::TypeProto_Tensor* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* s = t->mutable_shape();
  for (size_t i = 0; i < shape.size(); ++i) {
    onnx::TensorShapeProto_Dimension* d = s->add_dim();
    if (i == 0)
      d->set_dim_param("N");
    else
      d->set_dim_value(shape[i]);
  }
}

}  // namespace

OnnxExportResult export_onnx(LoadedModel& m, const std::string& path, const OnnxExportOptions& o) {
  OnnxExportResult res;
  res.kind = m.kind;
  res.input_shape = onnx_input_shape(m, o);
  m.to(Device::cpu());
  m.eval();

  // The forward at batch 2 (a batch of 1 could hide a reshape that fixes the batch).
  Shape traced_shape = res.input_shape;
  traced_shape[0] = 2;
  Tensor x = Tensor::full(traced_shape, 0.1);
  std::vector<TraceRecord> records;
  std::vector<std::pair<std::string, Tensor>> outs;
  {
    NoGradGuard no_grad;
    Tracer tracer;
    outs = forward_named(m, x);
    records = std::move(tracer.records);
  }

  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("faceforge");
  model.set_model_version(1);
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(17);
  for (const auto& [k, v] : m.meta) {
    onnx::StringStringEntryProto* e = model.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }
  onnx::GraphProto& g = *model.mutable_graph();
  g.set_name("faceforge_" + m.kind);
  GraphBuilder b(g, m);
  set_value_info(*g.add_input(), "data", res.input_shape);
  b.set_name(x, "data");
  for (size_t k = 0; k < records.size(); ++k) export_record(b, records[k], k);
  for (const auto& [name, t] : outs) {
    FF_CHECK(b.known(t), "export: output ", name, " (", t.str(),
             ") was not produced by a traced op: the network "
             "ends in an op the exporter does not know; nothing was written");
    TraceRecord r;
    r.op = "output";
    b.node("Identity", {b.name_of(t, r, records.size())}, {name});
    Shape s = t.shape();
    set_value_info(*g.add_output(), name, s);
    s[0] = 1;
    res.outputs.emplace_back(name, s);
  }
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    FF_FAIL("export ", path,
            ": the graph fails onnx::checker (a bug of the exporter; nothing was written): ", e.what());
  }
  std::string bytes;
  FF_CHECK(model.SerializeToString(&bytes), "export ", path, ": protobuf could not serialize the model");
  write_file_atomic(path, bytes, "export");
  res.nodes = g.node_size();
  res.initializers = g.initializer_size();
  res.bytes = static_cast<int64_t>(bytes.size());
  res.op_counts.assign(b.op_counts_.begin(), b.op_counts_.end());
  return res;
}
#endif

}  // namespace ff
