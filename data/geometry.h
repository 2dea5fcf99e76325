// data/geometry.h — 2-D geometry for face alignment: points, 2x3 affine matrices, the least-squares
// similarity transform (Umeyama), the three-point variant of OpenCV's estimateAffinePartial2D that
// the reference notebooks used, and the landmark templates faces are aligned to.
//
// Conventions (the same as OpenCV's, so matrices move between the two unchanged):
//   - Coordinates are in pixels, x to the right, y down. Integer coordinates are pixel CENTRES:
//     pixel (column i, row j) is centred on (i, j), and a W x H image spans [-0.5, W - 0.5] x
//     [-0.5, H - 0.5].
//   - A 2x3 matrix M maps a point (x, y) to (M00 x + M01 y + M02, M10 x + M11 y + M12). For an image
//     warp it maps SOURCE pixels to DESTINATION pixels, like cv2.warpAffine's M.
//
// How alignment uses this file: detect five landmarks (left eye, right eye, nose tip, left and right
// mouth corner; "left" is the image's left), estimate M = similarity_lstsq(landmarks, template),
// then warp the photo with M (engine/ops_geometry.h, warp_affine) to get the aligned face.
#pragma once
#include <vector>

#include "engine/tensor.h"

namespace ff {

struct Point2 {
  double x = 0.0, y = 0.0;
};

// A 2x3 affine matrix, row-major like OpenCV's: m[row][col]. Default: the identity.
struct Affine2 {
  double m[2][3] = {{1.0, 0.0, 0.0}, {0.0, 1.0, 0.0}};

  static Affine2 identity() { return {}; }
  static Affine2 translation(double tx, double ty);
  // Scales about the origin.
  static Affine2 scaling(double sx, double sy);
  // Rotation about the origin by `radians`: [cos -sin; sin cos]. Because y points down, a positive
  // angle turns the x axis towards the y axis, i.e. CLOCKWISE as an image is displayed (OpenCV's
  // getRotationMatrix2D uses the opposite sign: its positive angles turn counter-clockwise).
  static Affine2 rotation(double radians);
  // scale * rotation(radians) followed by a translation: the general similarity transform
  // [s cos, -s sin, tx; s sin, s cos, ty].
  static Affine2 similarity(double scale, double radians, double tx, double ty);
};

// Applies a to one point or to each point of a list.
Point2 apply_affine(const Affine2& a, const Point2& p);
std::vector<Point2> apply_affine(const Affine2& a, const std::vector<Point2>& points);

// The inverse affine map (a must be invertible: throws ff::Error when |det| of its 2x2 part is
// below 1e-12 times the square of its largest entry, which also catches all-zero matrices).
Affine2 invert(const Affine2& a);

// The map p -> outer(inner(p)): first `inner`, then `outer` (matrix product outer * inner in
// homogeneous coordinates).
Affine2 compose(const Affine2& outer, const Affine2& inner);

// The least-squares similarity transform (rotation, uniform scale >= 0, translation; reflection
// excluded) taking src[i] to dst[i]: the M minimising sum_i |M src[i] - dst[i]|^2 over all
// similarities (Umeyama 1991, "Least-squares estimation of transformation parameters between two
// point patterns"). Needs N >= 2 pairs and src points that are not all the same point (throws
// ff::Error otherwise). Agrees with skimage's SimilarityTransform.estimate and, where OpenCV
// returns the least-squares answer (see tests/test_geometry.cpp), with
// cv2.estimateAffinePartial2D.
Affine2 similarity_lstsq(const std::vector<Point2>& src, const std::vector<Point2>& dst);

// What cv2.estimateAffinePartial2D(src, dst) returns with its defaults (RANSAC, reprojection
// threshold 3 px, 10 refinement iterations) for exactly three pairs, as the reference notebooks
// called it (left eye, right eye and, judging by the template coordinates, the nose tip):
//   - if the exact similarity through some pair of the points brings the third point within
//     `threshold` pixels of its target, all three are RANSAC inliers and OpenCV's refinement
//     converges to the least-squares similarity of all three: similarity_lstsq(src, dst);
//   - otherwise only two points are inliers, and OpenCV keeps the model of the first pair its
//     fixed-seed RANSAC draws, which is always points 0 and 1: the exact similarity taking src[0],
//     src[1] to dst[0], dst[1] (the eyes alone; the third point is ignored).
// So the notebooks' alignment silently became eyes-only whenever the nose was more than 3 px off
// the template's shape. tools/make_geometry_goldens.py checks this rule against OpenCV on
// thousands of random triples; tests/test_geometry.cpp checks it on the stored ones.
Affine2 similarity_three_point(const std::vector<Point2>& src, const std::vector<Point2>& dst,
                               double threshold = 3.0);

// ---------------------------------------------------------------- templates
// insightface's five-point template for a 112 x 112 aligned face (ArcFace): left eye, right eye,
// nose tip, left mouth corner, right mouth corner.
std::vector<Point2> arcface_template_112();
// The reference notebooks' three-point templates for a 256 x 256 face (left eye, right eye, nose):
// the one their training data was aligned with, and the one used at inference.
std::vector<Point2> notebook_template_train_256();
std::vector<Point2> notebook_template_infer_256();
// A template made for a from_size x from_size image, rescaled for to_size x to_size by multiplying
// every coordinate by to_size / from_size — insightface's convention (arcface_dst * size / 112).
// (A pixel-centre-exact rescale would be (x + 0.5) * r - 0.5; the two differ by (r - 1) / 2 px.
// We follow insightface so models trained on its crops see the crops they expect.)
std::vector<Point2> scale_template(const std::vector<Point2>& points, double from_size, double to_size);

// ---------------------------------------------------------------- tensors
// Packs matrices into a float32 tensor [B, 2, 3] on `device` (the form warp_affine takes).
Tensor affine_tensor(const std::vector<Affine2>& matrices, Device device = Device::cpu());
// Unpacks a float tensor [B, 2, 3] (any device) into matrices.
std::vector<Affine2> affines_from_tensor(const Tensor& matrices);

}  // namespace ff
