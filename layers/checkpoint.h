// layers/checkpoint.h — a Module's weights to and from safetensors files, by state_dict name.
#pragma once
#include <map>
#include <string>

#include "engine/safetensors.h"
#include "layers/module.h"

namespace ff {

// Writes every parameter and buffer of `m` (atomically) with `metadata` (e.g. the model's
// configuration, so a loader can rebuild the right network).
void save_module(const std::string& path, Module& m, const std::map<std::string, std::string>& metadata = {},
                 bool bf16 = false);

// Copies tensors from `st` into m's parameters and buffers by name, converting dtype where needed
// (bf16 files load as float32), onto each tensor's device. Strict (default): a name m expects but
// the file lacks, or a name the file has but m does not expect, is an error listing them; a shape
// mismatch is always an error. Returns the number of tensors loaded.
int load_module(Module& m, const SafeTensors& st, bool strict = true, const std::string& what = "checkpoint");
int load_module(Module& m, const std::string& path, bool strict = true);

}  // namespace ff
