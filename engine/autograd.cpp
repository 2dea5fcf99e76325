// engine/autograd.cpp — recording nodes and the reverse walk. See autograd.h for the contract.
#include "engine/autograd.h"

#include <atomic>
#include <unordered_map>
#include <unordered_set>

#include "engine/ops.h"

namespace ff {

namespace {
thread_local bool g_grad_enabled = true;
std::atomic<int64_t> g_live_nodes{0};

// Node with a live count, so tests can prove graphs are released.
struct CountedNode : Node {
  CountedNode() { ++g_live_nodes; }
  ~CountedNode() { --g_live_nodes; }
};
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }
int64_t live_node_count() { return g_live_nodes.load(); }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(Tensor out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn) {
  if (!any_requires_grad(inputs)) return out;
  auto node = std::make_shared<CountedNode>();
  node->name = name;
  node->backward = std::move(fn);
  for (const Tensor& t : inputs) {
    Node::Edge e;
    if (t.defined() && t.requires_grad()) {
      if (t.grad_fn())
        e.fn = t.grad_fn();
      else
        e.leaf = t.impl_ptr();
    }
    node->edges.push_back(e);
    node->input_shapes.push_back(t.defined() ? t.shape() : Shape{});
  }
  out.impl()->requires_grad = true;
  out.impl()->grad_fn = node;
  return out;
}

namespace {
void accumulate_leaf(TensorImpl* leaf, Tensor g) {
  Tensor cur = leaf->grad ? Tensor(leaf->grad) : Tensor();
  if (!cur.defined()) {
    // Take g as the gradient when nothing else can see its memory; otherwise copy it, since g may
    // be shared with another consumer (add hands the same gradient to both inputs) and the leaf's
    // gradient is later accumulated in place.
    bool sole = g.impl_ptr().use_count() == 1 && g.impl()->storage.use_count() == 1;
    leaf->grad = sole ? g.impl_ptr() : g.clone().impl_ptr();
  } else {
    add_(cur, g);
  }
}
}  // namespace

void run_backward(const Tensor& root, const Tensor& grad_output) {
  FF_CHECK(root.defined() && grad_output.defined(), "backward: undefined tensor");
  FF_CHECK(root.requires_grad(), "backward: ", root.str(), " does not require a gradient");
  FF_CHECK(grad_output.shape() == root.shape() && grad_output.dtype() == root.dtype() &&
               grad_output.device() == root.device(),
           "backward: seed ", grad_output.str(), " does not match ", root.str());
  NoGradGuard no_grad;  // backward functions themselves are not recorded
  if (!root.grad_fn()) {  // backward on a leaf: its gradient is the seed
    accumulate_leaf(root.impl(), grad_output.clone());
    return;
  }
  // Reverse topological order by iterative depth-first search.
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, size_t>> stack{{root.grad_fn().get(), 0}};
  seen.insert(root.grad_fn().get());
  while (!stack.empty()) {
    auto& [n, i] = stack.back();
    if (i < n->edges.size()) {
      Node* child = n->edges[i++].fn.get();
      if (child && seen.insert(child).second) stack.push_back({child, 0});
    } else {
      order.push_back(n);
      stack.pop_back();
    }
  }
  std::unordered_map<Node*, Tensor> grads;
  grads[root.grad_fn().get()] = grad_output;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* n = *it;
    auto gi = grads.find(n);
    if (gi == grads.end()) continue;  // no gradient reached it
    Tensor g = gi->second;
    grads.erase(gi);
    FF_CHECK(n->backward, "backward: the graph through '", n->name,
             "' was already freed by an earlier backward");
    std::vector<Tensor> gin = n->backward(g);
    n->backward = nullptr;  // frees the saved tensors
    FF_CHECK(gin.size() == n->edges.size(), "backward of '", n->name, "' returned ", gin.size(),
             " gradients for ", n->edges.size(), " inputs");
    for (size_t k = 0; k < gin.size(); ++k) {
      const Node::Edge& e = n->edges[k];
      if (!gin[k].defined() || (!e.fn && !e.leaf)) continue;
      FF_CHECK(gin[k].shape() == n->input_shapes[k], "backward of '", n->name, "': gradient ",
               gin[k].str(), " for input ", k, " of shape ", shape_str(n->input_shapes[k]));
      if (e.fn) {
        auto [slot, fresh] = grads.try_emplace(e.fn.get(), gin[k]);
        if (!fresh) slot->second = add(slot->second, gin[k]);
      } else {
        accumulate_leaf(e.leaf.get(), std::move(gin[k]));
      }
    }
  }
}

}  // namespace ff
