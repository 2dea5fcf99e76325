// tests/test_pipeline.cpp — the face pipeline (face/pipeline.h): box parsing, the embeddings file
// format, model-kind errors, and `demo --quick` end to end, whose trained models then drive
// align_faces / embed_photos / verify_faces.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "face/embed.h"
#include "face/pipeline.h"
#include "face/verify_eval.h"
#include "models/factory.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace ff;
using ff::test::expect_throw_with;

namespace {

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("ff_pipeline_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

TEST(Pipeline, ParseBox) {
  FaceBox b = parse_box("10,20.5,30,40", 100, 100);
  EXPECT_FLOAT_EQ(b.x, 10);
  EXPECT_FLOAT_EQ(b.y, 20.5f);
  EXPECT_FLOAT_EQ(b.width, 30);
  EXPECT_FLOAT_EQ(b.height, 40);
  EXPECT_THROW(parse_box("1,2,3", 100, 100), Error);           // three numbers
  EXPECT_THROW(parse_box("1,2,3,4,5", 100, 100), Error);       // five
  EXPECT_THROW(parse_box("1,2,x,4", 100, 100), Error);         // not a number
  EXPECT_THROW(parse_box("1,2,3px,4", 100, 100), Error);       // trailing junk
  EXPECT_THROW(parse_box("1,2,0,4", 100, 100), Error);         // empty width
  EXPECT_THROW(parse_box("1,2,5,-4", 100, 100), Error);        // negative height
  EXPECT_THROW(parse_box("200,2,5,4", 100, 100), Error);       // right of the photo
  EXPECT_THROW(parse_box("-50,2,10,4", 100, 100), Error);      // left of the photo
  try {
    parse_box("a,b", 10, 10);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--box"), std::string::npos) << e.what();
  }
}

// A detector that returns fixed faces, to test how the pipeline chooses among them.
class FixedDetector : public FaceDetector {
 public:
  explicit FixedDetector(std::vector<FaceDetection> faces) : faces_(std::move(faces)) {}
  std::vector<FaceDetection> detect(const Image&) override { return faces_; }
  std::string name() const override { return "fixed"; }

 private:
  std::vector<FaceDetection> faces_;
};

TEST(Pipeline, LocateFacePicksTheLargestOrTheAskedOne) {
  std::vector<FaceDetection> faces(3);
  faces[0].box = FaceBox{0, 0, 10, 10}, faces[0].score = 0.99;   // small, best score
  faces[1].box = FaceBox{20, 20, 40, 40}, faces[1].score = 0.7;  // the largest
  faces[2].box = FaceBox{5, 50, 20, 20}, faces[2].score = 0.8;
  FixedDetector det(faces);
  Image photo(100, 100, 3, 0);
  FaceLocation w = locate_face(&det, photo, "p.jpg", std::nullopt);
  EXPECT_FLOAT_EQ(w.box.x, 20);
  EXPECT_EQ(w.found, 3);
  EXPECT_EQ(w.index, 1);
  EXPECT_DOUBLE_EQ(w.score, 0.7);
  EXPECT_FALSE(w.box_given);
  EXPECT_NE(describe_location(w).find("largest of 3"), std::string::npos) << describe_location(w);
  FaceLocation w3 = locate_face(&det, photo, "p.jpg", std::nullopt, 3);
  EXPECT_FLOAT_EQ(w3.box.width, 10);
  expect_throw_with([&] { locate_face(&det, photo, "p.jpg", std::nullopt, 4); }, {"p.jpg", "--face 4", "found 3 faces"});
  // A given box wins and needs no detector.
  FaceLocation g = locate_face(nullptr, photo, "p.jpg", FaceBox{1, 2, 3, 4});
  EXPECT_TRUE(g.box_given);
  EXPECT_FLOAT_EQ(g.box.height, 4);
  expect_throw_with([&] { locate_face(nullptr, photo, "p.jpg", std::nullopt); }, {"p.jpg", "no face detector"});
  FixedDetector none({});
  expect_throw_with([&] { locate_face(&none, photo, "empty.jpg", std::nullopt); },
                    {"empty.jpg", "no face found by fixed", "--box"});
}

TEST(Pipeline, JsonNamesRoundTrip) {
  std::vector<std::string> names = {"a.jpg", "with \"quotes\".png", "back\\slash.jpg", "new\nline", "", "caf\xc3\xa9.jpg"};
  std::string j = json_string_array(names);
  EXPECT_EQ(parse_json_string_array(j), names);
  EXPECT_EQ(parse_json_string_array("[]"), std::vector<std::string>{});
  EXPECT_EQ(parse_json_string_array(" [ \"a\" , \"\\u00e9\\t\" ] "), (std::vector<std::string>{"a", "\xc3\xa9\t"}));
  EXPECT_THROW(parse_json_string_array("[\"a\""), Error);
  EXPECT_THROW(parse_json_string_array("[1]"), Error);
  EXPECT_THROW(parse_json_string_array("{}"), Error);
}

TEST(Pipeline, EmbeddingsFileRoundTrip) {
  const std::string dir = temp_dir("embfile");
  Tensor e = Tensor::from_vector<float>({1, 0, 0, 0.6f, 0.8f, 0}, {2, 3});
  write_embeddings(dir + "/e.safetensors", {"x.jpg", "y \"2\".png"}, e, {{"model", "m.safetensors"}});
  EmbeddingsFile f = read_embeddings(dir + "/e.safetensors");
  EXPECT_EQ(f.names, (std::vector<std::string>{"x.jpg", "y \"2\".png"}));
  ASSERT_EQ(f.embeddings.shape(), (Shape{2, 3}));
  EXPECT_EQ(f.embeddings.to_vector<float>(), e.to_vector<float>());
  EXPECT_EQ(f.meta.at("model"), "m.safetensors");
  EXPECT_EQ(f.meta.at("dim"), "3");
  // The documented layout: "embeddings" float32 and "names" readable by any safetensors reader.
  SafeTensors st = read_safetensors(dir + "/e.safetensors");
  EXPECT_EQ(st.at("embeddings").dtype(), DType::F32);
  EXPECT_EQ(st.metadata.at("names"), "[\"x.jpg\",\"y \\\"2\\\".png\"]");
  // Wrong shapes and other files are refused.
  EXPECT_THROW(write_embeddings(dir + "/bad.safetensors", {"only one"}, e), Error);
  write_safetensors(dir + "/other.safetensors", {{"w", e}}, {});
  EXPECT_THROW(read_embeddings(dir + "/other.safetensors"), Error);
  EXPECT_THROW(read_embeddings(dir + "/missing.safetensors"), Error);
  fs::remove_all(dir);
}

TEST(Pipeline, ListImages) {
  const std::string dir = temp_dir("list");
  EXPECT_THROW(list_images(dir), Error);  // none
  EXPECT_THROW(list_images(dir + "/nope"), Error);
  save_png(Image(4, 4, 3, 10), dir + "/b.png");
  save_jpeg(Image(4, 4, 3, 10), dir + "/a.JPG");
  std::ofstream(dir + "/notes.txt") << "x";
  std::vector<std::string> l = list_images(dir);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(fs::path(l[0]).filename(), "a.JPG");
  EXPECT_EQ(fs::path(l[1]).filename(), "b.png");
  fs::remove_all(dir);
}

// The demo, once for the tests below (about a minute on a CPU).
class PipelineDemo : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(temp_dir("demo"));
    DemoOptions o;
    o.out = *dir_ + "/demo";
    o.quick = true;
    o.progress = false;
    result_ = new DemoResult(run_demo(o));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
    delete result_;
  }
  static std::string* dir_;
  static DemoResult* result_;
};
std::string* PipelineDemo::dir_ = nullptr;
DemoResult* PipelineDemo::result_ = nullptr;

TEST_F(PipelineDemo, WritesReportModelsAndFigures) {
  const DemoResult& r = *result_;
  const std::string out = *dir_ + "/demo";
  ASSERT_TRUE(fs::is_regular_file(r.report));
  std::ifstream in(r.report);
  std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("<html"), std::string::npos);
  // Every image the report shows exists beside it and decodes; the charts are SVG documents.
  size_t pos = 0, images = 0, charts = 0;
  while ((pos = html.find("src=\"", pos)) != std::string::npos) {
    pos += 5;
    std::string rel = html.substr(pos, html.find('"', pos) - pos);
    if (rel.size() > 4 && rel.substr(rel.size() - 4) == ".svg") {
      std::ifstream f(out + "/report/" + rel);
      std::string svg((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << rel;
      EXPECT_NE(svg.find("<svg"), std::string::npos) << rel;
      EXPECT_NE(svg.find("</svg>"), std::string::npos) << rel;
      ++charts;
    } else {
      Image im = load_image(out + "/report/" + rel);
      EXPECT_GT(im.width, 0) << rel;
    }
    ++images;
  }
  EXPECT_GE(images, 8u);
  EXPECT_GE(charts, 4u);  // both losses, CED, ROC
  // No literal backtick (code spans became <code>), and each metric explained where it is shown.
  EXPECT_EQ(html.find('`'), std::string::npos);
  for (const char* term : {"NME (normalised mean error)", "Failure rate:", "CED AUC:", "ROC AUC:", "TAR at FAR:",
                           "10-fold accuracy:"})
    EXPECT_NE(html.find(term), std::string::npos) << term;
  for (const char* f : {"verify/same.png", "verify/different.png", "faceforge_demo.txt", "summary.json"})
    EXPECT_TRUE(fs::is_regular_file(out + "/" + f)) << f;
  // summary.json holds the printed figures (tools/demo_seeds.py reads it).
  {
    std::ifstream f(out + "/summary.json");
    nlohmann::json j = nlohmann::json::parse(f);
    auto g6 = [](double v) {  // the value as written, with 6 significant digits
      char b[64];
      std::snprintf(b, sizeof b, "%.6g", v);
      return std::stod(b);
    };
    EXPECT_TRUE(j["quick"].get<bool>());
    EXPECT_DOUBLE_EQ(j["nme"].get<double>(), g6(r.nme));
    EXPECT_DOUBLE_EQ(j["auc"].get<double>(), g6(r.auc));
    EXPECT_DOUBLE_EQ(j["different_cosine"].get<double>(), g6(r.different_cosine));
    EXPECT_TRUE(j.contains("seconds train landmarks"));
    EXPECT_TRUE(j.contains("seconds train detector"));
    EXPECT_DOUBLE_EQ(j["detector_ap50"].get<double>(), g6(r.detector_ap50));
  }
  EXPECT_EQ(load_model(r.detector_model).kind, "detector");
  EXPECT_TRUE(fs::is_regular_file(out + "/report/detections.png"));
  EXPECT_TRUE(fs::is_regular_file(out + "/scenes/faces.json"));
  EXPECT_GE(r.detector_ap50, 0);
  EXPECT_LE(r.detector_ap50, 1);
  EXPECT_LE(r.undetected_faces, 3);
  EXPECT_NE(html.find("2. Face detection"), std::string::npos);
  EXPECT_EQ(load_model(r.landmark_model).kind, "hourglass");
  EXPECT_EQ(load_model(r.embedding_model).kind, "embedding");
  for (double v : {r.nme, r.closed_acc, r.auc, r.tar_at_far_1e2, r.acc10, r.same_cosine, r.different_cosine})
    EXPECT_TRUE(std::isfinite(v));
  EXPECT_GE(r.auc, 0);
  EXPECT_LE(r.auc, 1);
  EXPECT_LE(std::abs(r.same_cosine), 1.0 + 1e-5);
  EXPECT_EQ(r.same_decision, r.same_cosine >= 0.6);
  EXPECT_EQ(r.stage_seconds.size(), 8u);  // every stage but the report itself
  // A second run replaces the demo folder; a foreign non-empty folder is refused.
  const std::string foreign = *dir_ + "/foreign";
  fs::create_directories(foreign);
  std::ofstream(foreign + "/keep.txt") << "mine";
  DemoOptions o;
  o.out = foreign;
  o.quick = true;
  o.progress = false;
  EXPECT_THROW(run_demo(o), Error);
  EXPECT_TRUE(fs::exists(foreign + "/keep.txt"));
}

// eval-embed --wild: the demo's own photos as the "wild" folder. The dataset side must equal a
// plain eval-embed (same photos, the data's landmarks); the wild side finds every face itself.
TEST_F(PipelineDemo, EvalEmbedWildRunsThePipelineBesideTheCrops) {
  EmbedEvalOptions plain;
  plain.data = *dir_ + "/demo/data";
  plain.model = result_->embedding_model;
  plain.quiet = true;
  const EmbedEvalResult base = eval_embed(plain);
  EmbedEvalOptions w = plain;
  w.wild = plain.data;
  // The --quick detector is too briefly trained to find faces; with its heatmap bias raised and
  // its box sizes set near 64 px it "finds" faces everywhere, so every photo goes through the
  // landmark and alignment path.
  SafeTensors st = read_safetensors(result_->detector_model);
  for (auto& [name, t] : st.tensors) {
    if (name == "heatmap.bias") t.data<float>()[0] = 12.0f;
    if (name == "size.bias") t.data<float>()[0] = t.data<float>()[1] = std::log(64.0f / 4);
    if (name == "size.weight") t.fill_(0.0);
  }
  const std::string eager = *dir_ + "/eager_detector.safetensors";
  write_safetensors(eager, st.tensors, st.metadata);
  w.detector = eager;
  w.landmarks_model = result_->landmark_model;
  w.out = *dir_ + "/wild_eval";
  const EmbedEvalResult r = eval_embed(w);
  EXPECT_EQ(r.wild_photos, base.val_images + base.holdout_images);
  EXPECT_EQ(r.val_images, base.val_images);
  EXPECT_DOUBLE_EQ(r.crops_auc, base.auc);
  EXPECT_DOUBLE_EQ(r.crops_closed_acc_flip, base.closed_acc_flip);
  EXPECT_EQ(r.wild_no_face, 0);  // the landmark and alignment path ran for every photo
  EXPECT_GE(r.auc, 0);
  EXPECT_LE(r.auc, 1);
  EXPECT_NE(r.table.find("gap in ROC AUC"), std::string::npos) << r.table;
  std::ifstream m(w.out + "/metrics.csv");
  std::string csv((std::istreambuf_iterator<char>(m)), std::istreambuf_iterator<char>());
  EXPECT_NE(csv.find("crops_roc_auc,"), std::string::npos);
  EXPECT_NE(csv.find("wild_no_face,"), std::string::npos);
  // Without a detector or a landmark network the wild side cannot run: named errors.
  EmbedEvalOptions bad = w;
  bad.detector.clear();
  EXPECT_THROW(eval_embed(bad), Error);
  // A wild folder whose photos are symlinks to files outside it is refused before any is read
  // (review #16: the names were joined to it unchecked).
  const std::string links = *dir_ + "/wild_symlinks";
  std::filesystem::create_directories(links + "/img_celeba");
  for (const auto& e : std::filesystem::directory_iterator(plain.data + "/img_celeba"))
    std::filesystem::create_symlink(std::filesystem::absolute(e.path()),
                                    links + "/img_celeba/" + e.path().filename().string());
  EmbedEvalOptions sym = w;
  sym.wild = links;
  try {
    eval_embed(sym);
    ADD_FAILURE() << "symlinks out of the wild folder were followed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("eval-embed: --wild " + links + ": image name '"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("leaves the image folder " + links + "/img_celeba"), std::string::npos)
        << e.what();
  }
}

TEST_F(PipelineDemo, AlignEmbedVerifyWithTrainedModels) {
  LandmarkModel lm = load_landmark_model(result_->landmark_model);
  EmbeddingModel em = load_embedding_model(result_->embedding_model);
  // Models of the wrong kind are named.
  try {
    load_landmark_model(result_->embedding_model);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("kind 'embedding'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_embedding_model(result_->landmark_model), Error);
  EXPECT_THROW(load_embedding_model(*dir_ + "/none.safetensors"), Error);

  std::vector<std::string> paths = list_images(*dir_ + "/demo/data/img_celeba");
  ASSERT_GE(paths.size(), 3u);
  std::vector<Image> photos = {load_image(paths[0]), load_image(paths[1]), load_image(paths[2])};
  // Boxes from a detector (a fixed one here; the demo's own is tested in DemoDetector) and given.
  FaceDetection centred;
  centred.box = FaceBox{30, 35, 68, 68};
  centred.score = 0.9;
  FixedDetector det({centred});
  std::vector<FaceLocation> where = {locate_face(&det, photos[0], "a", std::nullopt),
                                     locate_face(&det, photos[1], "b", FaceBox{30, 40, 60, 60}),
                                     locate_face(&det, photos[2], "c", std::nullopt)};
  std::vector<AlignedFace> faces = align_faces(lm, photos, {"a", "b", "c"}, where, 96);
  ASSERT_EQ(faces.size(), 3u);
  for (const AlignedFace& f : faces) {
    EXPECT_EQ(f.aligned.width, 96);
    EXPECT_EQ(f.aligned.height, 96);
    EXPECT_EQ(f.crop.width, lm.framing.input_size);
    for (const Point2& p : f.landmarks) EXPECT_TRUE(std::isfinite(p.x) && std::isfinite(p.y));
  }
  EXPECT_FALSE(faces[0].where.box_given);
  EXPECT_TRUE(faces[1].where.box_given);
  EXPECT_FLOAT_EQ(faces[1].box.x, 30);
  // The same photo and box give the same landmarks whatever else is in the batch.
  std::vector<AlignedFace> alone = align_faces(lm, {photos[2]}, {"c"}, {where[2]}, 96);
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(alone[0].landmarks[k].x, faces[2].landmarks[k].x, 1e-3);
    EXPECT_NEAR(alone[0].landmarks[k].y, faces[2].landmarks[k].y, 1e-3);
  }
  EXPECT_EQ(alone[0].aligned.pixels, faces[2].aligned.pixels);

  // Embeddings: unit rows, batch-independent.
  std::vector<const Image*> ptrs = {&faces[0].photo, &faces[1].photo, &faces[2].photo};
  std::vector<Landmarks5> pts = {faces[0].landmarks, faces[1].landmarks, faces[2].landmarks};
  Tensor e = embed_photos(em, ptrs, pts, 2);
  ASSERT_EQ(e.shape(), (Shape{3, em.dim}));
  std::vector<float> v = e.to_vector<float>();
  for (int i = 0; i < 3; ++i) {
    double n2 = 0;
    for (int64_t k = 0; k < em.dim; ++k) n2 += v[i * em.dim + k] * v[i * em.dim + k];
    EXPECT_NEAR(n2, 1.0, 1e-4);
  }
  Tensor e1 = embed_photos(em, {ptrs[2]}, {pts[2]});
  std::vector<float> v1 = e1.to_vector<float>();
  for (int64_t k = 0; k < em.dim; ++k) EXPECT_NEAR(v1[k], v[2 * em.dim + k], 1e-4);

  // Verification: a photo against itself is the same person with cosine 1; the score is symmetric.
  VerifyResult self = verify_faces(&det, lm, em, photos[0], photos[0], "a", "a", std::nullopt, std::nullopt, 0.6);
  EXPECT_NEAR(self.cosine, 1.0, 1e-4);
  EXPECT_TRUE(self.same);
  VerifyResult ab = verify_faces(&det, lm, em, photos[0], photos[1], "a", "b", std::nullopt, std::nullopt, 0.6);
  VerifyResult ba = verify_faces(&det, lm, em, photos[1], photos[0], "b", "a", std::nullopt, std::nullopt, 0.6);
  EXPECT_NEAR(ab.cosine, ba.cosine, 1e-5);
  EXPECT_EQ(ab.same, ab.cosine >= 0.6);
  VerifyResult strict = verify_faces(&det, lm, em, photos[0], photos[0], "a", "a", std::nullopt, std::nullopt, 1.01);
  EXPECT_FALSE(strict.same);
  Image fig = verify_report_image(ab);
  EXPECT_GT(fig.width, 3 * 200);
  EXPECT_GT(fig.height, 2 * 200);

  // The embeddings file for these faces reads back.
  write_embeddings(*dir_ + "/e.safetensors", {"a", "b", "c"}, e);
  EmbeddingsFile f = read_embeddings(*dir_ + "/e.safetensors");
  EXPECT_EQ(f.names.size(), 3u);
  EXPECT_EQ(f.embeddings.to_vector<float>(), v);
}

}  // namespace

// eval-verify (face/verify_eval.h) on pairs of the demo's photos: each score is the cosine of the
// pipeline's own embeddings of the two photos, the k-fold numbers use the list's folds (not
// random ones), LFW's format gives the same scores as the plain list of the same pairs, a missing
// photo is counted and scores 0, and every output is written.
TEST_F(PipelineDemo, EvalVerifyScoresPairsWithTheListsFolds) {
  const std::string data = *dir_ + "/demo/data", work = *dir_ + "/eval_verify";
  fs::create_directories(work);
  std::vector<IdentityRow> ids = read_identities(data + "/identity_CelebA.txt");
  std::map<std::string, Landmarks5> points;
  for (const LandmarkRow& r : read_landmarks(data + "/list_landmarks_celeba.txt")) points[r.file] = r.points;
  std::map<int, std::vector<std::string>> by_id;
  for (const IdentityRow& r : ids) by_id[r.identity].push_back(r.file);
  // Pairs: for each identity with two photos, one same pair and one different pair.
  struct P {
    std::string a, b;
    bool same;
  };
  std::vector<P> same, diff;
  std::vector<int> people;
  for (auto& [id, files] : by_id) people.push_back(id);
  for (size_t k = 0; k < people.size(); ++k) {
    const auto& f = by_id[people[k]];
    const auto& g = by_id[people[(k + 1) % people.size()]];
    if (f.size() >= 2) same.push_back({f[0], f[1], true});
    diff.push_back({f[0], g.back(), false});
  }
  ASSERT_GE(same.size(), 6u);
  ASSERT_GE(diff.size(), 6u);
  same.resize(6), diff.resize(6);
  // Three folds of 2 + 2 pairs, in LFW's order (a fold's same pairs, then its different pairs).
  std::vector<P> pairs;
  for (int f = 0; f < 3; ++f) {
    for (int k = 0; k < 2; ++k) pairs.push_back(same[2 * f + k]);
    for (int k = 0; k < 2; ++k) pairs.push_back(diff[2 * f + k]);
  }
  {
    std::ofstream o(work + "/pairs.txt");
    o << "# the demo's photos\nfolds 3\n";
    for (const P& p : pairs) o << p.a << " " << p.b << " " << (p.same ? 1 : 0) << "\n";
  }
  VerifyEvalOptions vo;
  vo.pairs = work + "/pairs.txt";
  vo.images = data + "/img_celeba";
  vo.model = result_->embedding_model;
  vo.landmarks = data + "/list_landmarks_celeba.txt";
  vo.out = work + "/out";
  vo.quiet = true;
  vo.batch = 5;  // several chunks and batches
  const VerifyEvalResult r = eval_verify(vo);
  ASSERT_EQ(r.pairs, 12);
  EXPECT_EQ(r.same_pairs, 6);
  EXPECT_EQ(r.folds, 3);
  EXPECT_EQ(r.format, "plain");
  EXPECT_EQ(r.photos_unreadable + r.photos_no_face, 0);

  // The scores, from embed_photos directly.
  EmbeddingModel em = load_embedding_model(vo.model);
  for (size_t i = 0; i < pairs.size(); ++i) {
    const Image a = load_image(vo.images + "/" + pairs[i].a), b = load_image(vo.images + "/" + pairs[i].b);
    const std::vector<float> e =
        embed_photos(em, {&a, &b}, {points[pairs[i].a], points[pairs[i].b]}).to_vector<float>();
    double dot = 0;
    for (int64_t k = 0; k < em.dim; ++k) dot += static_cast<double>(e[k]) * e[em.dim + k];
    EXPECT_NEAR(r.scores[i], dot, 1e-5) << "pair " << i;
    EXPECT_EQ(r.fold[i], static_cast<int>(i / 4)) << "pair " << i;
  }
  // The numbers, from the metrics on those scores and the list's folds.
  const KFoldAccuracy kf = kfold_accuracy(r.scores, r.same, r.fold, 3);
  EXPECT_EQ(r.kfold.fold_accuracy, kf.fold_accuracy);
  EXPECT_EQ(r.kfold.fold_threshold, kf.fold_threshold);
  EXPECT_DOUBLE_EQ(r.auc, roc_auc(r.scores, r.same));
  ASSERT_EQ(r.right.size(), 12u);
  int right_in_fold0 = 0;
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(r.right[i] != 0, (r.scores[i] >= kf.fold_threshold[0]) == (r.same[i] != 0));
    right_in_fold0 += r.right[i];
  }
  EXPECT_DOUBLE_EQ(kf.fold_accuracy[0], right_in_fold0 / 4.0);

  // Every output; the scores file has a row per pair; the contact sheet is a picture.
  for (const char* f :
       {"metrics.csv", "scores.csv", "roc.csv", "roc.png", "roc.svg", "failed_photos.csv", "failed_pairs.png"})
    EXPECT_TRUE(fs::is_regular_file(vo.out + "/" + f)) << f;
  std::ifstream sc(vo.out + "/scores.csv");
  int rows = 0;
  for (std::string l; std::getline(sc, l);) ++rows;
  EXPECT_EQ(rows, 13);
  const Image sheet = load_image(vo.out + "/failed_pairs.png");
  EXPECT_GT(sheet.width, 200);

  // LFW's layout and format for the same pairs: photos renamed Person_K/Person_K_000N.jpg.
  const std::string lfw = work + "/lfw";
  std::map<std::string, std::pair<std::string, int>> lfw_name;  // demo file -> (person, number)
  std::ostringstream lm;
  std::map<int, int> count;
  for (const IdentityRow& row : ids) {
    const std::string person = "Person_" + std::to_string(row.identity);
    const int n = ++count[row.identity];
    lfw_name[row.file] = {person, n};
    char file[64];
    std::snprintf(file, sizeof file, "%s/%s_%04d.jpg", person.c_str(), person.c_str(), n);
    fs::create_directories(lfw + "/" + person);
    fs::copy_file(vo.images + "/" + row.file, lfw + "/" + file);
    lm << file;
    for (const Point2& p : points[row.file]) lm << " " << p.x << " " << p.y;
    lm << "\n";
  }
  std::ofstream(work + "/lfw_landmarks.txt")
      << ids.size() << "\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y "
      << "rightmouth_x rightmouth_y\n"
      << lm.str();
  {
    std::ofstream o(work + "/lfw_pairs.txt");
    o << "3\t2\n";
    for (const P& p : pairs) {
      const auto& [pa, na] = lfw_name[p.a];
      const auto& [pb, nb] = lfw_name[p.b];
      if (p.same)
        o << pa << "\t" << na << "\t" << nb << "\n";
      else
        o << pa << "\t" << na << "\t" << pb << "\t" << nb << "\n";
    }
  }
  VerifyEvalOptions lo = vo;
  lo.pairs = work + "/lfw_pairs.txt";
  lo.images = lfw;
  lo.landmarks = work + "/lfw_landmarks.txt";
  lo.out.clear();
  const VerifyEvalResult l = eval_verify(lo);
  EXPECT_EQ(l.format, "lfw");
  ASSERT_EQ(l.scores.size(), r.scores.size());
  for (size_t i = 0; i < r.scores.size(); ++i) EXPECT_NEAR(l.scores[i], r.scores[i], 1e-6) << "pair " << i;
  EXPECT_EQ(l.kfold.fold_accuracy, r.kfold.fold_accuracy);

  // A photo that is not there: counted, its pair scores 0, listed in failed_photos.csv.
  {
    std::ofstream o(work + "/pairs.txt", std::ios::app);
    o << "gone.jpg " << pairs[0].a << " 0\n";
  }
  std::vector<LandmarkRow> with_gone = read_landmarks(vo.landmarks);
  with_gone.push_back(
      {"gone.jpg", Landmarks5{Point2{1, 1}, Point2{9, 1}, Point2{5, 5}, Point2{2, 8}, Point2{8, 8}}, 0});
  write_landmarks(work + "/landmarks_gone.txt", with_gone);
  VerifyEvalOptions go = vo;
  go.landmarks = work + "/landmarks_gone.txt";
  go.out = work + "/out_gone";
  const VerifyEvalResult g = eval_verify(go);
  EXPECT_EQ(g.photos_unreadable, 1);
  EXPECT_EQ(g.pairs_with_failed_photo, 1);
  EXPECT_EQ(g.scores.back(), 0.0);
  std::ifstream fp(go.out + "/failed_photos.csv");
  std::string fps((std::istreambuf_iterator<char>(fp)), std::istreambuf_iterator<char>());
  EXPECT_NE(fps.find("gone.jpg,"), std::string::npos) << fps;
  EXPECT_NE(fps.find("unreadable"), std::string::npos) << fps;

  // A landmark list without one of the photos: named, with the pairs list's line.
  VerifyEvalOptions nl = vo;  // vo.landmarks has no row for gone.jpg, line 15 of pairs.txt
  expect_throw_with([&] { eval_verify(nl); }, {"has no landmarks for 1 of the", "pairs.txt:15 gone.jpg"});
  // --landmarks with a detector is refused; so is a list without different pairs.
  VerifyEvalOptions both = vo;
  both.detector = result_->detector_model;
  expect_throw_with([&] { eval_verify(both); }, {"cannot be combined with --detector"});
  {
    std::ofstream o(work + "/only_same.txt");
    o << pairs[0].a << " " << pairs[0].b << " 1\n";
  }
  VerifyEvalOptions os = vo;
  os.pairs = work + "/only_same.txt";
  expect_throw_with([&] { eval_verify(os); }, {"1 same-person and 0 different-person pairs"});

  // The pipeline's own stages: the detector's largest face (the --quick detector made eager, as
  // above, so it finds one in every photo), the hourglass's landmarks from that box.
  SafeTensors st = read_safetensors(result_->detector_model);
  for (auto& [name, t] : st.tensors) {
    if (name == "heatmap.bias") t.data<float>()[0] = 12.0f;
    if (name == "size.bias") t.data<float>()[0] = t.data<float>()[1] = std::log(64.0f / 4);
    if (name == "size.weight") t.fill_(0.0);
  }
  write_safetensors(work + "/eager.safetensors", st.tensors, st.metadata);
  VerifyEvalOptions po = vo;
  po.landmarks.clear();
  po.out.clear();
  po.detector = work + "/eager.safetensors";
  po.landmarks_model = result_->landmark_model;
  const VerifyEvalResult pr = eval_verify(po);
  EXPECT_EQ(pr.photos_no_face, 0);
  EXPECT_NE(pr.aligned_by.find("landmarks by " + result_->landmark_model), std::string::npos) << pr.aligned_by;
  for (double v : pr.scores) EXPECT_TRUE(std::isfinite(v) && v >= -1.0001 && v <= 1.0001) << v;
  // Different landmarks than the list's: the scores differ from the landmark-list run.
  double moved = 0;
  for (size_t i = 0; i < pr.scores.size() && i < r.scores.size(); ++i) moved += std::abs(pr.scores[i] - r.scores[i]);
  EXPECT_GT(moved, 1e-4);
}
