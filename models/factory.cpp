// models/factory.cpp — see factory.h.
#include "models/factory.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>

#include "engine/parse.h"
#include "layers/checkpoint.h"

namespace ff {

namespace {

const char* const kKinds = "hourglass, embedding, resnet, detector";
const char* const kHeadPrefix = "head.";

// Shortest decimal text that reads back as the same double ("0.1", "45").
std::string num(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

// Runs a model's config parser, turning any failure into one ff::Error naming the file.
template <typename Config>
Config parse_config(const std::string& kind, const std::string& config, const std::string& what) {
  try {
    FF_CHECK(!config.empty(), "empty configuration string");
    return Config::parse(config);
  } catch (const std::exception& e) {
    FF_FAIL(what, ": bad ", kind, " configuration '", config, "': ", e.what());
  }
}

// Kind and configuration of a known network type; empty kind for anything else.
std::pair<std::string, std::string> describe(Module& m) {
  if (auto* h = dynamic_cast<StackedHourglass*>(&m)) return {"hourglass", h->config().str()};
  if (auto* e = dynamic_cast<EmbeddingNet*>(&m)) return {"embedding", e->config().str()};
  if (auto* r = dynamic_cast<ResNet*>(&m)) return {"resnet", r->config().str()};
  if (auto* d = dynamic_cast<FaceDetectorNet*>(&m)) return {"detector", d->config().str()};
  return {"", ""};
}

// Configuration string as the network type writes it (parse then str), for comparisons.
std::string canonical(const std::string& kind, const std::string& config, const std::string& what) {
  if (kind == "hourglass") return parse_config<HourglassConfig>(kind, config, what).str();
  if (kind == "embedding") return parse_config<EmbeddingConfig>(kind, config, what).str();
  if (kind == "resnet") return parse_config<ResNetConfig>(kind, config, what).str();
  if (kind == "detector") return parse_config<DetectorConfig>(kind, config, what).str();
  FF_FAIL(what, ": unknown model kind '", kind, "' (expected one of ", kKinds, ")");
}

const std::string& meta_at(const std::map<std::string, std::string>& meta, const std::string& key,
                           const std::string& what, const std::string& why) {
  auto it = meta.find(key);
  FF_CHECK(it != meta.end(), what, ": metadata '", key, "' is missing (", why, ")");
  return it->second;
}

// ---------------------------------------------------------------- the tensors a configuration implies
// Names and shapes only, nothing allocated: the same walk as the constructors (models/*.cpp); the
// test ModelFactory.TensorShapesEqualTheNetworks compares the two for configurations of each kind.
struct Spec {
  ModelTensorShapes t;
  void conv(const std::string& p, int64_t in, int64_t out, int64_t k, bool bias) {
    t.emplace_back(p + ".weight", Shape{out, in, k, k});
    if (bias) t.emplace_back(p + ".bias", Shape{out});
  }
  void bn(const std::string& p, int64_t c) {
    for (const char* n : {".weight", ".bias", ".running_mean", ".running_var"}) t.emplace_back(p + n, Shape{c});
    t.emplace_back(p + ".num_batches_tracked", Shape{});
  }
  void linear(const std::string& p, int64_t in, int64_t out, bool bias) {
    t.emplace_back(p + ".weight", Shape{out, in});
    if (bias) t.emplace_back(p + ".bias", Shape{out});
  }
  void residual(const std::string& p, int64_t in, int64_t out) {  // models/hourglass.h Residual
    const int64_t half = out / 2;
    conv(p + ".conv1", in, half, 1, true);
    bn(p + ".bn1", half);
    conv(p + ".conv2", half, half, 3, true);
    bn(p + ".bn2", half);
    conv(p + ".conv3", half, out, 1, true);
    bn(p + ".bn3", out);
    if (in != out) conv(p + ".skip", in, out, 1, true);
  }
  void hourglass(const HourglassConfig& c) {
    conv("init_conv.0", 3, c.stem_channels, 7, true);
    bn("init_conv.1", c.stem_channels);
    residual("init_conv.3", c.stem_channels, c.mid_channels);
    residual("init_conv.5", c.mid_channels, c.mid_channels);
    residual("init_conv.6", c.mid_channels, c.channels);
    for (int k = 1; k <= c.stacks; ++k)
      for (const char* part : {"enc", "de"})
        for (int i = 1; i <= 4; ++i)
          residual("hg" + std::to_string(k) + "." + part + std::to_string(i), c.channels, c.channels);
    for (int k = 1; k <= c.stacks; ++k) conv("out_conv" + std::to_string(k), c.channels, c.landmarks, 1, true);
    for (int k = 1; k < c.stacks; ++k) {
      conv("merge" + std::to_string(k) + ".0", c.landmarks, c.channels, 1, true);
      residual("merge" + std::to_string(k) + ".1", c.channels, c.channels);
    }
  }
  void resnet(const std::string& p, const ResNetConfig& c) {  // models/resnet.cpp ResNet
    const int64_t base = c.base();
    conv(p + "conv1", 3, base, 7, false);
    bn(p + "bn1", base);
    int64_t in = base;
    for (int s = 0; s < 4; ++s) {
      const int64_t width = base << s, out = width * Bottleneck::kExpansion;
      for (int b = 0; b < c.blocks[static_cast<size_t>(s)]; ++b) {
        const std::string q = p + "layer" + std::to_string(s + 1) + "." + std::to_string(b);
        conv(q + ".conv1", in, width, 1, false);
        bn(q + ".bn1", width);
        conv(q + ".conv2", width, width, 3, false);
        bn(q + ".bn2", width);
        conv(q + ".conv3", width, out, 1, false);
        bn(q + ".bn3", out);
        if (b == 0 && (s > 0 || in != out)) {
          conv(q + ".downsample.0", in, out, 1, false);
          bn(q + ".downsample.1", out);
        }
        in = out;
      }
    }
    if (c.classes > 0) linear(p + "fc", in, c.classes, true);
  }
  void embedding(const EmbeddingConfig& c) {
    ResNetConfig rc = c.resnet;
    rc.classes = 0;
    resnet("backbone.", rc);
    linear("embedding_layer.1", rc.feature_dim(), c.embedding_dim, true);
    if (c.bn) bn("embedding_layer.2", c.embedding_dim);
  }
  void detector(const DetectorConfig& c) {  // models/detector.cpp FaceDetectorNet
    int64_t in = 3;
    for (int s = 0; s < 5; ++s) {
      const std::string p = "stage" + std::to_string(s + 1) + ".";
      const int64_t w = c.widths[static_cast<size_t>(s)];
      for (int e = 0; e <= c.extra[static_cast<size_t>(s)]; ++e) {
        conv(p + std::to_string(3 * e), e == 0 ? in : w, w, 3, false);
        bn(p + std::to_string(3 * e + 1), w);
      }
      in = w;
    }
    for (int s = 1; s < 5; ++s)
      conv("lateral" + std::to_string(s + 1), c.widths[static_cast<size_t>(s)], c.fpn, 1, true);
    conv("neck.0", c.fpn, c.fpn, 3, false);
    bn("neck.1", c.fpn);
    conv("heatmap", c.fpn, 1, 1, true);
    conv("size", c.fpn, 2, 1, true);
    conv("offset", c.fpn, 2, 1, true);
    conv("landmarks", c.fpn, 10, 1, true);
  }
};

int64_t total_numel(const ModelTensorShapes& t) {
  int64_t n = 0;
  for (auto& [name, s] : t) n += shape_numel(s);  // each config value is bounded: no overflow
  return n;
}

// The file's tensors against those `expected` (the configuration's): shapes first (the most telling
// mismatch), then names; every message names the file, the configuration and both totals. Runs
// before anything is constructed, so a file can make load_model allocate no more than it holds.
void check_file_tensors(const SafeTensors& st, const ModelTensorShapes& expected, const std::string& config,
                        const std::string& what) {
  std::map<std::string, const Tensor*> have;
  int64_t file_numel = 0;
  for (auto& [name, t] : st.tensors) {
    have[name] = &t;
    file_numel += t.numel();
  }
  const int64_t want_numel = total_numel(expected);
  const std::string totals =
      detail::cat("configuration '", config, "' implies ", expected.size(), " tensors of ", want_numel,
                  " elements, the file holds ", st.tensors.size(), " of ", file_numel);
  std::set<std::string> names;
  std::string missing, unexpected;
  size_t nm = 0, nu = 0;
  for (auto& [name, shape] : expected) {
    names.insert(name);
    auto it = have.find(name);
    if (it == have.end()) {
      if (nm++ < 10) missing += (missing.empty() ? "" : ", ") + name;
      continue;
    }
    FF_CHECK(it->second->shape() == shape, what, ": tensor '", name, "' has shape ", shape_str(it->second->shape()),
             " in the file, the configuration implies ", shape_str(shape), " (", totals, ")");
  }
  for (auto& [name, t] : st.tensors)
    if (!names.count(name) && nu++ < 10) unexpected += (unexpected.empty() ? "" : ", ") + name;
  FF_CHECK(nm == 0 && nu == 0, what, ": tensors do not match the model (", nm, " missing: ", missing, "; ", nu,
           " unexpected: ", unexpected, "; ", totals, ")");
  FF_CHECK(want_numel == file_numel, what, ": ", totals);  // implied by the above; kept as the invariant
}
}  // namespace

ModelTensorShapes model_tensor_shapes(const std::string& kind, const std::string& config, const std::string& what) {
  Spec s;
  if (kind == "hourglass")
    s.hourglass(parse_config<HourglassConfig>(kind, config, what));
  else if (kind == "embedding")
    s.embedding(parse_config<EmbeddingConfig>(kind, config, what));
  else if (kind == "resnet")
    s.resnet("", parse_config<ResNetConfig>(kind, config, what));
  else if (kind == "detector")
    s.detector(parse_config<DetectorConfig>(kind, config, what));
  else
    FF_FAIL(what, ": unknown model kind '", kind, "' (expected one of ", kKinds, ")");
  // Each value is bounded by its parser, but together they can still describe a network no
  // machine holds (width=16 with 64 blocks per stage: tens of billions of weights).
  double total = 0;
  for (auto& [name, shape] : s.t) {
    double n = 1;
    for (int64_t d : shape) n *= static_cast<double>(d);
    total += n;
  }
  FF_CHECK(total <= static_cast<double>(kMaxModelWeights), what, ": ", kind, " config '", config, "' describes ",
           static_cast<long long>(total), " weights; at most ", kMaxModelWeights,
           " are allowed (ResNet-50 holds 25.6 million)");
  return s.t;
}

std::map<std::string, std::string> model_metadata(const std::string& kind, const std::string& config, const Head* head,
                                                  const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> meta{{"model", kind}, {"config", config}};
  if (head) {
    FF_CHECK(kind == "embedding", "model_metadata: a ", head->kind(), " head goes with an embedding network, not a ",
             kind);
    meta["head"] = head->kind();
    meta["classes"] = std::to_string(head->classes());
    if (auto* a = dynamic_cast<const ArcFaceHead*>(head)) {
      meta["s"] = num(a->s);
      meta["m"] = num(a->m);
    }
  }
  for (auto& [k, v] : extra) {
    FF_CHECK(!meta.count(k) && k != "head" && k != "classes" && k != "s" && k != "m", "model_metadata: extra entry '",
             k, "' would override the model description");
    meta[k] = v;
  }
  return meta;
}

void save_model(const std::string& path, Module& module, const std::string& kind, const std::string& config,
                const std::map<std::string, std::string>& extra_meta, Head* head, bool bf16) {
  std::string what = "save_model(" + path + ")";
  std::string canon = canonical(kind, config, what);  // throws on an unknown kind or a bad string
  auto [own_kind, own_config] = describe(module);
  if (!own_kind.empty()) {
    FF_CHECK(own_kind == kind, what, ": the module is a ", own_kind, " network, not a ", kind);
    FF_CHECK(own_config == canon, what, ": configuration '", config, "' differs from the network's own '", own_config,
             "'");
  }
  if (head) {
    FF_CHECK(kind == "embedding", what, ": a ", head->kind(), " head goes with an embedding network, not a ", kind);
    int64_t dim = parse_config<EmbeddingConfig>(kind, config, what).embedding_dim;
    FF_CHECK(head->dim() == dim, what, ": the head takes ", head->dim(), "-d embeddings, the network makes ", dim,
             "-d ones");
  }
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : module.state_dict()) {
    FF_CHECK(name.rfind(kHeadPrefix, 0) != 0, what, ": network tensor '", name, "' clashes with the head prefix");
    tensors.emplace_back(name, *t);
  }
  if (head)
    for (auto& [name, t] : head->state_dict()) tensors.emplace_back(kHeadPrefix + name, *t);
  write_safetensors(path, tensors, model_metadata(kind, config, head, extra_meta), bf16);
}

void save_model(const std::string& path, Module& module, Head* head,
                const std::map<std::string, std::string>& extra_meta, bool bf16) {
  auto [kind, config] = describe(module);
  FF_CHECK(
      !kind.empty(), "save_model(", path,
      "): not a StackedHourglass, EmbeddingNet, ResNet or FaceDetectorNet; pass the kind and configuration explicitly");
  save_model(path, module, kind, config, extra_meta, head, bf16);
}

// ---------------------------------------------------------------- LoadedModel

namespace {
template <typename T>
T& as(const LoadedModel& lm, const char* kind) {
  FF_CHECK(lm.module != nullptr, "LoadedModel: empty");
  FF_CHECK(lm.kind == kind, "LoadedModel: the file holds a ", lm.kind, " network, not a ", kind);
  return static_cast<T&>(*lm.module);
}
}  // namespace

StackedHourglass& LoadedModel::hourglass() const { return as<StackedHourglass>(*this, "hourglass"); }
EmbeddingNet& LoadedModel::embedding() const { return as<EmbeddingNet>(*this, "embedding"); }
ResNet& LoadedModel::resnet() const { return as<ResNet>(*this, "resnet"); }
FaceDetectorNet& LoadedModel::detector() const { return as<FaceDetectorNet>(*this, "detector"); }

Head& LoadedModel::get_head() const {
  FF_CHECK(head != nullptr, "LoadedModel: the ", kind, " file has no classification head");
  return *head;
}
ArcFaceHead& LoadedModel::arcface() const {
  Head& h = get_head();
  FF_CHECK(h.kind() == "arcface", "LoadedModel: the head is a ", h.kind(), " head, not arcface");
  return static_cast<ArcFaceHead&>(h);
}
SoftmaxHead& LoadedModel::softmax() const {
  Head& h = get_head();
  FF_CHECK(h.kind() == "softmax", "LoadedModel: the head is a ", h.kind(), " head, not softmax");
  return static_cast<SoftmaxHead&>(h);
}
void LoadedModel::to(Device device) {
  if (module) module->to(device);
  if (head) head->to(device);
}
void LoadedModel::eval() {
  if (module) module->eval();
  if (head) head->eval();
}

// ---------------------------------------------------------------- load_model

namespace {
// What load_model reads from a file's metadata, every part checked against the file's tensors.
struct CheckedModel {
  std::string kind, config;
  std::string head;  // "" (none), "arcface" or "softmax"
  int64_t classes = 0;
  double s = 0, m = 0;
};

CheckedModel check_model(const SafeTensors& st, const std::string& what) {
  CheckedModel cm;
  cm.kind = meta_at(st.metadata, "model", what, std::string("not a model file? expected one of ") + kKinds);
  cm.config = meta_at(st.metadata, "config", what, "the network's configuration string");
  // Everything the metadata describes is checked against the file's tensors before anything is
  // constructed: the configuration's values are bounded by their parsers, and the tensors they
  // imply (names, shapes, total) must be the file's own.
  ModelTensorShapes expected = model_tensor_shapes(cm.kind, cm.config, what);

  // The head's description ("head.*" tensors).
  size_t head_tensors = 0;
  for (auto& [name, t] : st.tensors) head_tensors += name.rfind(kHeadPrefix, 0) == 0;
  auto h = st.metadata.find("head");
  if (h == st.metadata.end()) {
    for (auto& [name, t] : st.tensors)
      FF_CHECK(name.rfind(kHeadPrefix, 0) != 0, what, ": holds ", head_tensors, " head tensor(s) (", name,
               ", ...) but no 'head' metadata");
  } else {
    cm.head = h->second;
    FF_CHECK(cm.kind == "embedding", what, ": a '", cm.head, "' head in a ", cm.kind,
             " file (heads go with embedding networks)");
    FF_CHECK(cm.head == "arcface" || cm.head == "softmax", what, ": unknown head '", cm.head,
             "' (expected arcface or softmax)");
    const int64_t dim = parse_config<EmbeddingConfig>(cm.kind, cm.config, what).embedding_dim;
    const std::string& cs = meta_at(st.metadata, "classes", what, "the head's class count");
    double c = parse_number(cs, what + ": metadata 'classes'");
    FF_CHECK(c >= 1 && c == std::floor(c), what, ": metadata 'classes' = '", cs, "' is not a positive integer");
    FF_CHECK(c <= static_cast<double>(kMaxHeadClasses), what, ": metadata 'classes' = '", cs,
             "' is out of range (allowed 1..", kMaxHeadClasses, ")");
    cm.classes = static_cast<int64_t>(c);
    if (cm.head == "arcface") {
      cm.s = parse_number(meta_at(st.metadata, "s", what, "the ArcFace scale"), what + ": metadata 's'");
      cm.m = parse_number(meta_at(st.metadata, "m", what, "the ArcFace margin"), what + ": metadata 'm'");
    }
    expected.emplace_back(std::string(kHeadPrefix) + "weight", Shape{cm.classes, dim});
    if (cm.head == "softmax") expected.emplace_back(std::string(kHeadPrefix) + "bias", Shape{cm.classes});
  }
  check_file_tensors(
      st, expected,
      cm.config + (cm.head.empty() ? "" : ", " + cm.head + " head of " + std::to_string(cm.classes) + " classes"),
      what);
  return cm;
}
}  // namespace

void check_model_file(const SafeTensors& st, const std::string& what) { check_model(st, what); }

LoadedModel load_model(const SafeTensors& st, const std::string& what, uint64_t seed) {
  const CheckedModel cm = check_model(st, what);
  LoadedModel lm;
  lm.meta = st.metadata;
  lm.kind = cm.kind;
  const std::string& config = cm.config;
  Rng rng(seed);
  if (lm.kind == "hourglass")
    lm.module = std::make_shared<StackedHourglass>(parse_config<HourglassConfig>(lm.kind, config, what), rng);
  else if (lm.kind == "embedding")
    lm.module = std::make_shared<EmbeddingNet>(parse_config<EmbeddingConfig>(lm.kind, config, what), rng);
  else if (lm.kind == "resnet")
    lm.module = std::make_shared<ResNet>(parse_config<ResNetConfig>(lm.kind, config, what), rng);
  else
    lm.module = std::make_shared<FaceDetectorNet>(parse_config<DetectorConfig>(lm.kind, config, what), rng);

  // Split the file: the network's tensors, and the head's under "head.".
  SafeTensors net, head;
  for (auto& [name, t] : st.tensors) {
    if (name.rfind(kHeadPrefix, 0) == 0)
      head.tensors.emplace_back(name.substr(5), t);
    else
      net.tensors.emplace_back(name, t);
  }
  load_module(*lm.module, net, /*strict=*/true, what);
  if (!cm.head.empty()) {
    const int64_t dim = static_cast<EmbeddingNet&>(*lm.module).config().embedding_dim;
    if (cm.head == "arcface") {
      try {
        lm.head = std::make_shared<ArcFaceHead>(cm.classes, dim, cm.s, cm.m, rng);
      } catch (const Error& e) {
        FF_FAIL(what, ": bad ArcFace head description: ", e.what());
      }
    } else {
      lm.head = std::make_shared<SoftmaxHead>(dim, cm.classes, rng);
    }
    load_module(*lm.head, head, /*strict=*/true, what + " (head)");
  }
  return lm;
}

LoadedModel load_model(const std::string& path, uint64_t seed) {
  return load_model(read_safetensors(path), path, seed);
}

}  // namespace ff
