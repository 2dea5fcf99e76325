// engine/autograd.h — define-by-run reverse-mode differentiation.
//
// An op that sees an input requiring a gradient (and grad mode on) records a Node on its output:
// the edges to its inputs and a backward function that captures what backward needs. Saved
// tensors must be captured detached (x.detach()), never the op's own output handle, so no cycle
// output -> node -> output keeps memory alive.
// Tensor::backward() walks the nodes in reverse topological order, sums the gradients arriving at
// each node, calls its backward once, frees what it saved (a second backward through the same
// graph is an error), and accumulates into .grad() of the leaves.
//
// Backward contract: a Node's backward returns one gradient per input, in input order, each with
// the input's shape and dtype, or an undefined Tensor where the input needs no gradient. It never
// writes into the incoming gradient, which may be shared.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ff {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  std::string name;  // the op's name, for error messages
  // One edge per input: where the input's gradient goes. For a non-leaf input, its grad_fn; for a
  // leaf that requires a gradient, the leaf itself; neither where no gradient is needed.
  struct Edge {
    std::shared_ptr<Node> fn;
    std::shared_ptr<TensorImpl> leaf;
  };
  std::vector<Edge> edges;
  std::vector<Shape> input_shapes;  // checked against what backward returns
  BackwardFn backward;              // reset after it has run: that frees the saved tensors
};

// Grad mode (thread-local). NoGradGuard turns recording off for its scope.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when grad mode is on and any of the inputs requires a gradient.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Records a Node on `out` when any_requires_grad(inputs); returns out either way.
Tensor record(Tensor out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn);

// Runs backward from `root` seeded with `grad_output` (same shape as root).
void run_backward(const Tensor& root, const Tensor& grad_output);

// Number of Nodes alive in this process — a test uses it to prove graphs are freed.
int64_t live_node_count();

}  // namespace ff
