// layers/checkpoint.cpp — see checkpoint.h.
#include "layers/checkpoint.h"

#include <set>

#include "engine/autograd.h"

namespace ff {

void save_module(const std::string& path, Module& m, const std::map<std::string, std::string>& metadata, bool bf16) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : m.state_dict()) tensors.emplace_back(name, *t);
  write_safetensors(path, tensors, metadata, bf16);
}

int load_module(Module& m, const SafeTensors& st, bool strict, const std::string& what) {
  auto sd = m.state_dict();
  std::set<std::string> expected;
  for (auto& [name, t] : sd) expected.insert(name);
  std::set<std::string> have;
  for (auto& [name, t] : st.tensors) have.insert(name);
  if (strict) {
    std::string missing, unexpected;
    int nm = 0, nu = 0;
    for (auto& n : expected)
      if (!have.count(n) && nm++ < 10) missing += (missing.empty() ? "" : ", ") + n;
    for (auto& n : have)
      if (!expected.count(n) && nu++ < 10) unexpected += (unexpected.empty() ? "" : ", ") + n;
    FF_CHECK(nm == 0 && nu == 0, what, ": names do not match the model (", nm, " missing: ", missing, "; ", nu,
             " unexpected: ", unexpected, ")");
  }
  NoGradGuard no_grad;
  int loaded = 0;
  for (auto& [name, t] : sd) {
    if (!st.has(name)) continue;
    const Tensor& src = st.at(name);
    FF_CHECK(src.shape() == t->shape(), what, ": tensor '", name, "' has shape ", shape_str(src.shape()),
             ", the model expects ", shape_str(t->shape()));
    Tensor converted = src.dtype() == t->dtype() ? src : src.to(t->dtype());
    t->copy_from(converted.to(t->device()));
    ++loaded;
  }
  return loaded;
}

int load_module(Module& m, const std::string& path, bool strict) {
  return load_module(m, read_safetensors(path), strict, path);
}

}  // namespace ff
