// data/geometry.cpp — points, 2x3 affine matrices, the least-squares similarity transform and the
// alignment templates (see data/geometry.h for the conventions).
#include "data/geometry.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace ff {

namespace {
std::string point_str(const Point2& p) { return detail::cat("(", p.x, ", ", p.y, ")"); }

void check_finite(const char* op, const std::vector<Point2>& pts, const char* what) {
  for (size_t i = 0; i < pts.size(); ++i)
    FF_CHECK(std::isfinite(pts[i].x) && std::isfinite(pts[i].y), op, ": ", what, " point ", i, " is ",
             point_str(pts[i]), ", not finite");
}
}  // namespace

Affine2 Affine2::translation(double tx, double ty) {
  Affine2 a;
  a.m[0][2] = tx;
  a.m[1][2] = ty;
  return a;
}

Affine2 Affine2::scaling(double sx, double sy) {
  Affine2 a;
  a.m[0][0] = sx;
  a.m[1][1] = sy;
  return a;
}

Affine2 Affine2::rotation(double radians) { return similarity(1.0, radians, 0.0, 0.0); }

Affine2 Affine2::similarity(double scale, double radians, double tx, double ty) {
  double c = scale * std::cos(radians), s = scale * std::sin(radians);
  Affine2 a;
  a.m[0][0] = c, a.m[0][1] = -s, a.m[0][2] = tx;
  a.m[1][0] = s, a.m[1][1] = c, a.m[1][2] = ty;
  return a;
}

Point2 apply_affine(const Affine2& a, const Point2& p) {
  return {a.m[0][0] * p.x + a.m[0][1] * p.y + a.m[0][2], a.m[1][0] * p.x + a.m[1][1] * p.y + a.m[1][2]};
}

std::vector<Point2> apply_affine(const Affine2& a, const std::vector<Point2>& points) {
  std::vector<Point2> out;
  out.reserve(points.size());
  for (const Point2& p : points) out.push_back(apply_affine(a, p));
  return out;
}

// For M = [A | t] (A the 2x2 part), M^-1 = [A^-1 | -A^-1 t]; A^-1 = [d -b; -c a] / det for
// A = [a b; c d].
Affine2 invert(const Affine2& a) {
  const auto& m = a.m;
  double det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
  double big = std::max({std::fabs(m[0][0]), std::fabs(m[0][1]), std::fabs(m[1][0]), std::fabs(m[1][1])});
  FF_CHECK(std::isfinite(det) && std::fabs(det) > 1e-12 * big * big && big > 0, "invert: affine matrix [[",
           m[0][0], ", ", m[0][1], ", ", m[0][2], "], [", m[1][0], ", ", m[1][1], ", ", m[1][2],
           "]] is singular (det ", det, ")");
  Affine2 r;
  r.m[0][0] = m[1][1] / det;
  r.m[0][1] = -m[0][1] / det;
  r.m[1][0] = -m[1][0] / det;
  r.m[1][1] = m[0][0] / det;
  r.m[0][2] = -(r.m[0][0] * m[0][2] + r.m[0][1] * m[1][2]);
  r.m[1][2] = -(r.m[1][0] * m[0][2] + r.m[1][1] * m[1][2]);
  return r;
}

// outer(inner(p)) = A_o (A_i p + t_i) + t_o = (A_o A_i) p + (A_o t_i + t_o).
Affine2 compose(const Affine2& outer, const Affine2& inner) {
  Affine2 r;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      double v = outer.m[i][0] * inner.m[0][j] + outer.m[i][1] * inner.m[1][j];
      r.m[i][j] = j == 2 ? v + outer.m[i][2] : v;
    }
  }
  return r;
}

// Umeyama's method, written out for two dimensions.
//
// Umeyama centres both point sets (p_i = src_i - mean_src, q_i = dst_i - mean_dst), forms the
// cross-covariance S = (1/N) sum_i q_i p_i^T and the source variance var = (1/N) sum_i |p_i|^2, and
// finds the rotation R that maximises trace(R^T S) (the SVD of S, with a sign fix that rules out
// reflections); then scale = trace(R^T S) / var and t = mean_dst - scale R mean_src.
//
// In 2-D no SVD is needed. A rotation by theta gives trace(R^T S) = cos(theta) (S00 + S11) +
// sin(theta) (S10 - S01), a dot product of (cos, sin) with the vector (S00 + S11, S10 - S01), so the
// best theta points along that vector and the maximum is its length. Therefore
//   scale * cos(theta) = (S00 + S11) / var = sum_i (p_i . q_i) / sum_i |p_i|^2        (= a)
//   scale * sin(theta) = (S10 - S01) / var = sum_i (p_i x q_i) / sum_i |p_i|^2        (= b)
// with p x q = p.x q.y - p.y q.x, and M = [a -b tx; b a ty]. These a and b are also what ordinary
// linear least squares gives for M = [a -b tx; b a ty] — every rotation-plus-scale 2x2 matrix has
// that form, and its determinant a^2 + b^2 is never negative, so reflections cannot occur.
Affine2 similarity_lstsq(const std::vector<Point2>& src, const std::vector<Point2>& dst) {
  FF_CHECK(src.size() == dst.size(), "similarity_lstsq: ", src.size(), " source points but ", dst.size(),
           " destination points");
  FF_CHECK(src.size() >= 2, "similarity_lstsq: needs at least 2 point pairs, got ", src.size());
  check_finite("similarity_lstsq", src, "source");
  check_finite("similarity_lstsq", dst, "destination");
  const double n = static_cast<double>(src.size());

  Point2 ms, md;  // the means
  for (size_t i = 0; i < src.size(); ++i) {
    ms.x += src[i].x / n, ms.y += src[i].y / n;
    md.x += dst[i].x / n, md.y += dst[i].y / n;
  }
  double var = 0.0, dot = 0.0, cross = 0.0, extent = 1.0;
  for (size_t i = 0; i < src.size(); ++i) {
    double px = src[i].x - ms.x, py = src[i].y - ms.y;  // centred source
    double qx = dst[i].x - md.x, qy = dst[i].y - md.y;  // centred destination
    var += px * px + py * py;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    extent = std::max({extent, std::fabs(src[i].x), std::fabs(src[i].y)});
  }
  // All source points (numerically) the same point: rotation and scale are undetermined.
  FF_CHECK(var > 1e-18 * extent * extent * n, "similarity_lstsq: the ", src.size(),
           " source points coincide (first ", point_str(src[0]), "): rotation and scale are undetermined");
  double a = dot / var, b = cross / var;
  Affine2 m;
  m.m[0][0] = a, m.m[0][1] = -b, m.m[0][2] = md.x - (a * ms.x - b * ms.y);
  m.m[1][0] = b, m.m[1][1] = a, m.m[1][2] = md.y - (b * ms.x + a * ms.y);
  return m;
}

Affine2 similarity_three_point(const std::vector<Point2>& src, const std::vector<Point2>& dst,
                               double threshold) {
  FF_CHECK(src.size() == 3 && dst.size() == 3,
           "similarity_three_point: needs exactly 3 source and 3 destination points, got ", src.size(), " and ",
           dst.size());
  FF_CHECK(threshold >= 0.0, "similarity_three_point: threshold must be >= 0, got ", threshold);
  // RANSAC's view: each pair of points defines an exact similarity (two pairs fix four unknowns);
  // the third point is an inlier of that model when it lands within `threshold` of its target.
  const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
  for (const auto& pr : pairs) {
    int i = pr[0], j = pr[1], k = 3 - i - j;
    Affine2 exact = similarity_lstsq({src[i], src[j]}, {dst[i], dst[j]});
    Point2 p = apply_affine(exact, src[k]);
    double dx = p.x - dst[k].x, dy = p.y - dst[k].y;
    if (dx * dx + dy * dy <= threshold * threshold) return similarity_lstsq(src, dst);  // all inliers
  }
  return similarity_lstsq({src[0], src[1]}, {dst[0], dst[1]});  // OpenCV's first sample: points 0, 1
}

std::vector<Point2> arcface_template_112() {
  return {{38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041}};
}
std::vector<Point2> notebook_template_train_256() { return {{70, 100}, {186, 100}, {128, 144}}; }
std::vector<Point2> notebook_template_infer_256() { return {{78, 105}, {174, 105}, {126, 146}}; }

std::vector<Point2> scale_template(const std::vector<Point2>& points, double from_size, double to_size) {
  FF_CHECK(from_size > 0 && to_size > 0, "scale_template: sizes must be positive, got ", from_size, " -> ", to_size);
  double r = to_size / from_size;
  std::vector<Point2> out;
  for (const Point2& p : points) out.push_back({p.x * r, p.y * r});
  return out;
}

Tensor affine_tensor(const std::vector<Affine2>& matrices, Device device) {
  std::vector<float> v;
  v.reserve(matrices.size() * 6);
  for (const Affine2& a : matrices)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) v.push_back(static_cast<float>(a.m[i][j]));
  return Tensor::from_vector(v, {static_cast<int64_t>(matrices.size()), 2, 3}, device);
}

std::vector<Affine2> affines_from_tensor(const Tensor& matrices) {
  FF_CHECK(matrices.defined() && is_floating(matrices.dtype()) && matrices.dim() == 3 && matrices.size(1) == 2 &&
               matrices.size(2) == 3,
           "affines_from_tensor: expected a float tensor [B, 2, 3], got ",
           matrices.defined() ? matrices.str() : std::string("undefined"));
  std::vector<double> v = matrices.to_vector<double>();
  std::vector<Affine2> out(matrices.size(0));
  for (size_t b = 0; b < out.size(); ++b)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) out[b].m[i][j] = v[b * 6 + i * 3 + j];
  return out;
}

}  // namespace ff
