// engine/ops.h — every public op of the engine.
//
// Each op checks its arguments once (shapes, dtypes, devices) and throws ff::Error naming the op
// and the offending tensors, then dispatches to a CPU or CUDA function in kernels/, and records an
// autograd Node when an input requires a gradient. float32 runs on both devices; float64 runs on
// the CPU (for gradient checks). Shapes in comments: N batch, C channels, H/W height/width.
#pragma once
#include "engine/random.h"
#include "engine/tensor.h"

namespace ff {

// ---------------------------------------------------------------- element-wise (engine/ops_elementwise.cpp)
Tensor add(const Tensor& a, const Tensor& b);  // same shapes
Tensor sub(const Tensor& a, const Tensor& b);  // same shapes
Tensor mul(const Tensor& a, const Tensor& b);  // same shapes, element-wise product
Tensor scale(const Tensor& x, double s);       // s * x
Tensor add_scalar(const Tensor& x, double s);  // x + s
Tensor relu(const Tensor& x);
// PReLU, one slope per channel (PyTorch's F.prelu with a [C] weight): x [N, C, ...] (at least 2
// dimensions; channel = dimension 1), w [C] -> x > 0 ? x : w[c] * x. Gradients for x and w.
Tensor prelu(const Tensor& x, const Tensor& w);
Tensor sqrt(const Tensor& x);                          // element-wise; x >= 0
Tensor clamp(const Tensor& x, double lo, double hi);   // gradient passes where lo <= x <= hi (torch.clamp)
// 1 where x > threshold, else 0; float, never requires a gradient.
Tensor greater_mask(const Tensor& x, double threshold);
Tensor sum(const Tensor& x);   // all elements -> 0-dim tensor
Tensor mean(const Tensor& x);  // all elements -> 0-dim tensor
Tensor flatten(const Tensor& x, int64_t start_dim = 1);  // view: [N, C, H, W] -> [N, C*H*W]
// In place, never recorded (optimizers, gradient accumulation, buffers):
void add_(Tensor& a, const Tensor& b);                    // a += b
void axpy_(Tensor& a, double alpha, const Tensor& b);     // a += alpha * b
void scale_(Tensor& a, double s);                         // a *= s
void fill_(Tensor& a, double value);

// ---------------------------------------------------------------- convolution and pooling (engine/ops_conv.cpp)
// x [N, Cin, H, W], w [Cout, Cin, k, k], b [Cout] or undefined -> [N, Cout, Ho, Wo],
// Ho = (H + 2 pad - k) / stride + 1. Square kernels, symmetric padding, no dilation, no groups.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad);
// Inference only (nothing recorded: call it under NoGradGuard), CPU: conv2d followed by eval-mode
// batch norm (running statistics) and, when `relu`, ReLU — with the batch norm folded into the
// convolution's weights and bias (w * gamma / sqrt(var + eps) per output channel; the scale in
// double) and ReLU applied in place on its output: one pass over the output instead of three.
// b: the convolution's bias or undefined. Equals the three ops up to float rounding.
Tensor conv2d_bn_eval(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& gamma, const Tensor& beta,
                      const Tensor& running_mean, const Tensor& running_var, double eps, int stride, int pad,
                      bool relu);
// Max pooling, square window; padding counts as -inf (PyTorch semantics). Floor mode by default;
// ceil_mode rounds the output size up, as PyTorch's: Ho = ceil((H + 2 pad - k) / stride) + 1,
// less one when the last window would start past the input and the left padding
// ((Ho - 1) * stride >= H + pad); that last window is clipped to the input.
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int pad, bool ceil_mode = false);
// [N, C, H, W] -> [N, C, 1, 1], the mean over H and W.
Tensor adaptive_avg_pool2d_1x1(const Tensor& x);

// ---------------------------------------------------------------- normalisation and dropout (engine/ops_norm.cpp)
// Batch norm over [N, C, H, W] with per-channel gamma, beta [C]. Training: normalise by the batch
// statistics (biased variance) and update running_mean/var in place with momentum (PyTorch: new =
// (1 - momentum) * old + momentum * batch, the running variance unbiased). Eval: running stats.
// Training needs more than one value per channel (N*H*W > 1); the running statistics are buffers
// and must not require a gradient; gradients flow to x, gamma and beta in both modes.
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// Inverted dropout: in training, zero each element with probability p and scale the rest by
// 1/(1-p); identity in eval or when p == 0. The mask comes from rng (same on CPU and CUDA).
Tensor dropout(const Tensor& x, double p, bool training, Rng& rng);

// ---------------------------------------------------------------- resampling (engine/ops_resample.cpp)
// Bilinear resize of [N, C, H, W] to [N, C, out_h, out_w], PyTorch's F.interpolate semantics.
Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners);

// ---------------------------------------------------------------- linear algebra (engine/ops_linear.cpp)
// x [N, in], w [out, in], b [out] or undefined -> [N, out] = x wᵀ + b.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);
// x / max(||x||_2, eps) along dim 1 of a 2-D tensor (PyTorch F.normalize(x, dim=1)).
Tensor l2_normalize(const Tensor& x, double eps = 1e-12);

// ---------------------------------------------------------------- losses (engine/ops_loss.cpp)
// mean((x - target)^2) over all elements (same shapes) -> 0-dim; x and target both differentiable.
Tensor mse_loss(const Tensor& x, const Tensor& target);
// logits [N, K], labels int64 [N] in [0, K) -> mean over the batch of -log softmax(logits)[label].
// A label outside [0, K) throws (naming the label and its index); on CUDA that check reads a
// 24-byte count back from the device, the op's one host synchronisation.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

// ---------------------------------------------------------------- detection losses (engine/ops_detect.cpp)
// The training losses of the CenterNet-style face detector (stride-4 centre heatmap, box size and
// landmark offsets regressed at face centres). Each reduces to a 0-dim tensor without a host
// synchronisation on CUDA; only the prediction is differentiated (a target or mask that requires
// a gradient throws); target and mask have the prediction's dtype and device.
// Element-wise 1 / (1 + exp(-x)), without overflow at any |x|; gradient y (1 - y).
Tensor sigmoid(const Tensor& x);
// CenterNet's penalty-reduced pixel-wise focal loss from logits (p = sigmoid(logits)), target of
// logits' shape with values in [0, 1] (not checked), a positive where target is exactly 1:
// -(sum_pos (1-p)^alpha log p + sum_neg (1-target)^beta p^alpha log(1-p)) / max(1, positives),
// with log p = -softplus(-x), log(1-p) = -softplus(x) (no log(0)). NaN logits give a NaN loss.
Tensor focal_loss(const Tensor& logits, const Tensor& target, double alpha = 2, double beta = 4);
// pred, target [N, C, H, W], mask [N, 1, H, W] of weights >= 0 (not checked) broadcast over C:
// sum mask * |pred - target| / max(1, C * sum mask). Elements where mask == 0 are skipped (a NaN
// or infinite target there changes nothing); the gradient is mask sign(pred - target) / denominator,
// 0 where pred == target (torch's L1).
Tensor masked_l1_loss(const Tensor& pred, const Tensor& target, const Tensor& mask);

// ---------------------------------------------------------------- optimizer updates (engine/ops_optim.cpp)
// One in-place update of parameter p from its gradient (same shape, dtype and device: float32, or
// float64 on the CPU) with torch.optim's arithmetic, never recorded; one kernel, no host
// synchronisation. A buffer passed undefined is made by the first update (on p's device) and
// handed back. The hyperparameters are validated by the optimizers (train/optim.h), not here.
// SGD: d = grad + weight_decay p; with momentum != 0, buf = d on the first update, then
// buf = momentum buf + (1 - dampening) d, and d = buf (nesterov: d + momentum buf); p -= lr d.
// With momentum 0, momentum_buf is neither used nor changed.
void sgd_step_(Tensor& p, const Tensor& grad, Tensor& momentum_buf, double lr, double momentum,
               double dampening, double weight_decay, bool nesterov);
// Adam (no amsgrad) at step t >= 1, this update included: d = grad + weight_decay p;
// m = beta1 m + (1 - beta1) d; v = beta2 v + (1 - beta2) d²;
// p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps). m, v start at zero.
void adam_step_(Tensor& p, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, int64_t step, double lr,
                double beta1, double beta2, double eps, double weight_decay);

}  // namespace ff

namespace ff {
// ---------------------------------------------------------------- label-indexed ops and ArcFace (engine/ops_arcface.cpp)
// x [N, K], labels int64 [N] in [0, K) -> [N], y[i] = x[i, labels[i]]. Differentiable in x.
Tensor gather_label(const Tensor& x, const Tensor& labels);
// x [N, K], labels [N], v [N] -> [N, K], y = x with y[i, labels[i]] += v[i]. Differentiable in x, v.
Tensor scatter_label_add(const Tensor& x, const Tensor& labels, const Tensor& v);

// The ArcFace margin of the reference notebooks on a cosine matrix, as one fused op:
// cos [N, C] (normalised embeddings times normalised class weights), labels [N] ->
// mean over rows of cross_entropy(s * cos', labels), where cos' = cos except on the target
// class: phi = c cos m - sin(c) sin m if c > cos(pi - m), else c - sin(pi - m) m, with
// c = clamp(cos, -1, 1) and sin(c) = sqrt(clamp(1 - c^2, 1e-12)); as torch.clamp, each clamp passes
// the gradient inside its bounds and at them, none outside (so at cos = +-1, where 1 - c^2 = 0 <
// 1e-12, nothing flows through the sine and the gradient stays finite). One pass per row computes the margin, the
// log-sum-exp, the loss and d loss / d cos, without a one-hot matrix or a second logits copy.
// arcface_loss_unfused() is the same function composed of ordinary ops: the reference.
Tensor arcface_loss(const Tensor& cos, const Tensor& labels, double s, double m);
Tensor arcface_loss_unfused(const Tensor& cos, const Tensor& labels, double s, double m);
}  // namespace ff
