// models/factory.h — model files that say what they hold: save a network with its kind and
// configuration, and rebuild the right network from a file alone.
//
// A model file is a safetensors file (layers/checkpoint.h) holding the network's state_dict under
// its PyTorch names, and this metadata:
//   "model"   "hourglass" | "embedding" | "resnet" | "detector"
//   "config"  HourglassConfig::str() | EmbeddingConfig::str() | ResNetConfig::str() | DetectorConfig::str()
// An embedding network may carry the classification head it was trained with: its tensors are
// stored with the prefix "head." ("head.weight", and "head.bias" for softmax) and described by
//   "head"    "arcface" | "softmax"
//   "classes" number of classes;   "s", "m"  ArcFace scale and margin (arcface only)
// Any other metadata (a run's step, the tool that converted the file, ...) is kept and returned.
// tools/convert_torch.py writes such files from PyTorch checkpoints.
//
//   save_model("hg.safetensors", net, "hourglass", net.config().str());
//   LoadedModel lm = load_model("hg.safetensors");
//   StackedHourglass& hg = lm.hourglass();           // throws unless the file holds a hourglass
#pragma once
#include <map>
#include <memory>
#include <string>

#include "engine/safetensors.h"
#include "layers/heads.h"
#include "models/detector.h"
#include "models/hourglass.h"
#include "models/resnet.h"

namespace ff {

// The metadata load_model needs for a network of `kind` with configuration string `config`, and
// for `head` when given (kind must then be "embedding"); `extra` entries are added (they may not
// override these keys).
std::map<std::string, std::string> model_metadata(const std::string& kind, const std::string& config,
                                                  const Head* head = nullptr,
                                                  const std::map<std::string, std::string>& extra = {});

// Writes module's state_dict (and head's, as "head.<name>") with model_metadata(...), atomically.
// The configuration string is parsed once here, so a file load_model cannot read is never written.
void save_model(const std::string& path, Module& module, const std::string& kind, const std::string& config,
                const std::map<std::string, std::string>& extra_meta = {}, Head* head = nullptr, bool bf16 = false);
// Same, kind and configuration taken from the network itself (StackedHourglass, EmbeddingNet or
// ResNet; anything else is an error).
void save_model(const std::string& path, Module& module, Head* head = nullptr,
                const std::map<std::string, std::string>& extra_meta = {}, bool bf16 = false);

// A network rebuilt from a model file.
struct LoadedModel {
  std::string kind;                         // "hourglass", "embedding", "resnet" or "detector"
  std::shared_ptr<Module> module;           // the network, weights loaded, in training mode
  std::shared_ptr<Head> head;               // the embedding network's head, when the file has one
  std::map<std::string, std::string> meta;  // every metadata entry of the file

  // The network as its type; each throws ff::Error naming the actual kind when it differs.
  StackedHourglass& hourglass() const;
  EmbeddingNet& embedding() const;
  ResNet& resnet() const;
  FaceDetectorNet& detector() const;
  bool has_head() const { return head != nullptr; }
  Head& get_head() const;        // throws when the file had no head
  ArcFaceHead& arcface() const;  // throws unless the head is an ArcFace head
  SoftmaxHead& softmax() const;  // throws unless the head is a softmax head
  void to(Device device);        // moves the network and the head
  void eval();                   // eval mode for the network and the head
};

// The tensors (state_dict names and shapes) a network of `kind` with configuration `config` holds,
// computed without building it; `what` names the source in errors (a bad kind or configuration,
// or one of more than kMaxModelWeights weights).
using ModelTensorShapes = std::vector<std::pair<std::string, Shape>>;
ModelTensorShapes model_tensor_shapes(const std::string& kind, const std::string& config,
                                      const std::string& what = "model_tensor_shapes");
// The most weights (tensor elements, buffers included) a configuration may describe: 2^31, 8 GiB
// of float32; model_tensor_shapes refuses more.
constexpr int64_t kMaxModelWeights = int64_t{1} << 31;
// The most classes a head in a model file may have.
constexpr int64_t kMaxHeadClasses = 10000000;

// Reads a model file and rebuilds its network (and head): strict loading, every tensor the network
// expects must be in the file and nothing else may be. Errors (ff::Error, naming the file): no
// "model" or "config" metadata, an unknown kind, a configuration string that does not parse, a
// head description that is incomplete or does not fit, names or shapes that do not match. The
// configuration (bounded by its parser) and the head's class count are checked against the file's
// tensors (names, shapes, total elements: model_tensor_shapes) before anything is constructed, so
// a file never makes load_model allocate more than about twice its own size.
// `seed` seeds the generator behind construction (overwritten by the weights) and dropout.
LoadedModel load_model(const std::string& path, uint64_t seed = 0);
// The same from a parsed file; `what` names it in errors.
LoadedModel load_model(const SafeTensors& st, const std::string& what, uint64_t seed = 0);
// load_model's checks alone (metadata, bounds, the tensors against the configuration), nothing
// built: for code that constructs the network itself from a file's metadata (a resumed run).
void check_model_file(const SafeTensors& st, const std::string& what);

}  // namespace ff
