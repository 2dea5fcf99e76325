// models/factory.cpp — see factory.h.
#include "models/factory.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>

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

// The whole of `s` as a number, or an error naming `what` (std::stod would accept "12abc").
double parse_number(const std::string& s, const std::string& what) {
  const char* b = s.c_str();
  char* end = nullptr;
  double v = s.empty() ? NAN : std::strtod(b, &end);
  FF_CHECK(!s.empty() && end == b + s.size() && std::isfinite(v), what, ": '", s, "' is not a number");
  return v;
}

// The configuration parsers of the models read values with std::stoll/stod, which stop at the
// first character that is not part of a number; a file is checked whole here first, so
// "channels=12abc" is refused instead of read as 12.
void check_config_values(const std::string& config, const std::string& what) {
  FF_CHECK(!config.empty(), what, ": empty configuration string");
  size_t start = 0;
  while (start <= config.size()) {
    size_t comma = config.find(',', start);
    std::string kv = config.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t eq = kv.find('=');
    FF_CHECK(eq != std::string::npos && eq > 0, what, ": entry '", kv, "' of configuration '", config,
             "' is not key=value");
    std::string v = kv.substr(eq + 1);
    size_t p = 0;
    do {  // blocks=3:4:6:3 holds several numbers
      size_t colon = v.find(':', p);
      parse_number(v.substr(p, colon == std::string::npos ? std::string::npos : colon - p),
                   what + ": value of '" + kv.substr(0, eq) + "' in configuration '" + config + "'");
      p = colon == std::string::npos ? std::string::npos : colon + 1;
    } while (p != std::string::npos);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

// Runs a model's config parser, turning any failure into one ff::Error naming the file.
template <typename Config>
Config parse_config(const std::string& kind, const std::string& config, const std::string& what) {
  try {
    check_config_values(config, what);
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

}  // namespace

std::map<std::string, std::string> model_metadata(const std::string& kind, const std::string& config,
                                                  const Head* head, const std::map<std::string, std::string>& extra) {
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
    FF_CHECK(own_config == canon, what, ": configuration '", config, "' differs from the network's own '",
             own_config, "'");
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

void save_model(const std::string& path, Module& module, Head* head, const std::map<std::string, std::string>& extra_meta,
                bool bf16) {
  auto [kind, config] = describe(module);
  FF_CHECK(!kind.empty(), "save_model(", path,
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

LoadedModel load_model(const SafeTensors& st, const std::string& what, uint64_t seed) {
  LoadedModel lm;
  lm.meta = st.metadata;
  lm.kind = meta_at(st.metadata, "model", what, std::string("not a model file? expected one of ") + kKinds);
  const std::string& config = meta_at(st.metadata, "config", what, "the network's configuration string");
  Rng rng(seed);
  if (lm.kind == "hourglass")
    lm.module = std::make_shared<StackedHourglass>(parse_config<HourglassConfig>(lm.kind, config, what), rng);
  else if (lm.kind == "embedding")
    lm.module = std::make_shared<EmbeddingNet>(parse_config<EmbeddingConfig>(lm.kind, config, what), rng);
  else if (lm.kind == "resnet")
    lm.module = std::make_shared<ResNet>(parse_config<ResNetConfig>(lm.kind, config, what), rng);
  else if (lm.kind == "detector")
    lm.module = std::make_shared<FaceDetectorNet>(parse_config<DetectorConfig>(lm.kind, config, what), rng);
  else
    FF_FAIL(what, ": unknown model kind '", lm.kind, "' (expected one of ", kKinds, ")");

  // Split the file: the network's tensors, and the head's under "head.".
  SafeTensors net, head;
  for (auto& [name, t] : st.tensors) {
    if (name.rfind(kHeadPrefix, 0) == 0) head.tensors.emplace_back(name.substr(5), t);
    else net.tensors.emplace_back(name, t);
  }
  load_module(*lm.module, net, /*strict=*/true, what);
  auto h = st.metadata.find("head");
  if (h == st.metadata.end()) {
    FF_CHECK(head.tensors.empty(), what, ": holds ", head.tensors.size(), " head tensor(s) (",
             kHeadPrefix, head.tensors[0].first, ", ...) but no 'head' metadata");
  } else {
    FF_CHECK(lm.kind == "embedding", what, ": a '", h->second, "' head in a ", lm.kind, " file (heads go with embedding networks)");
    int64_t dim = static_cast<EmbeddingNet&>(*lm.module).config().embedding_dim;
    const std::string& cs = meta_at(st.metadata, "classes", what, "the head's class count");
    double classes = parse_number(cs, what + ": metadata 'classes'");
    FF_CHECK(classes >= 1 && classes == std::floor(classes) && classes < 1e12, what, ": metadata 'classes' = '", cs,
             "' is not a positive integer");
    if (h->second == "arcface") {
      double s = parse_number(meta_at(st.metadata, "s", what, "the ArcFace scale"), what + ": metadata 's'");
      double m = parse_number(meta_at(st.metadata, "m", what, "the ArcFace margin"), what + ": metadata 'm'");
      try {
        lm.head = std::make_shared<ArcFaceHead>(static_cast<int64_t>(classes), dim, s, m, rng);
      } catch (const Error& e) {
        FF_FAIL(what, ": bad ArcFace head description: ", e.what());
      }
    } else if (h->second == "softmax") {
      lm.head = std::make_shared<SoftmaxHead>(dim, static_cast<int64_t>(classes), rng);
    } else {
      FF_FAIL(what, ": unknown head '", h->second, "' (expected arcface or softmax)");
    }
    load_module(*lm.head, head, /*strict=*/true, what + " (head)");
  }
  return lm;
}

LoadedModel load_model(const std::string& path, uint64_t seed) { return load_model(read_safetensors(path), path, seed); }

}  // namespace ff
