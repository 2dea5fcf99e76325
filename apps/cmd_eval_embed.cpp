// apps/cmd_eval_embed.cpp — `faceforge eval-embed`: closed-set accuracy and open-set verification
// of a network trained by `faceforge train-embed` (face/embed.h), e.g.
//   faceforge eval-embed --data data/synth --model runs/emb/best.safetensors --out runs/emb/eval
#include <iostream>
#include <memory>

#include "apps/commands.h"
#include "face/embed.h"

namespace {

ff::app::Command reg("eval-embed", "Evaluate a trained face-embedding network: closed-set accuracy and verification",
                     [](CLI::App& sub) {
  auto o = std::make_shared<ff::EmbedEvalOptions>();
  sub.footer(
      "Closed set: top-1 accuracy of the head on the validation images of the trained identities, with\n"
      "and without flip test-time augmentation (scores of the image and its mirror averaged).\n"
      "Open set: the identities the run held out (never trained on): all same-identity pairs and as\n"
      "many random different-identity pairs, cosine similarity of the L2-normalised flip-TTA\n"
      "embeddings; ROC AUC, TAR at FAR 1e-2 and 1e-3, LFW-style 10-fold accuracy (mean +- std).\n"
      "With --wild DIR --detector FILE: the same numbers from DIR's uncropped photos, each face found\n"
      "by the detector (the largest), its landmarks predicted from that box by the landmark network,\n"
      "aligned and embedded, beside the same photos of DATA aligned by DATA's landmarks, and the gap\n"
      "in ROC AUC: what the pipeline's own stages lose. A photo without a face found counts as\n"
      "misclassified and scores 0 against every other.\n"
      "With --out: OUT/metrics.csv, OUT/roc.csv, OUT/roc.svg.");
  sub.add_option("--data", o->data, "The dataset the model was trained on (CelebA layout)")->required();
  sub.add_option("--model", o->model, "A checkpoint of train-embed (RUN/best.safetensors)")->required();
  sub.add_option("--out", o->out, "Folder for metrics.csv, roc.csv and roc.svg");
  sub.add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  sub.add_option("--batch", o->batch, "Batch size")->check(CLI::Range(2, 65536))->capture_default_str();
  sub.add_option("--workers", o->workers, "Threads preparing images")->check(CLI::Range(0, 256))->capture_default_str();
  sub.add_option("--landmarks-model", o->landmarks_model,
                 "Align by this landmark network (default: the one the model was trained with, if any)");
  sub.add_flag("--ground-truth-landmarks", o->ground_truth_landmarks,
               "Align by the dataset's landmark file even if the model was trained on predicted landmarks");
  sub.add_option("--wild", o->wild,
                 "The whole pipeline on photos as taken: a folder whose img_celeba/ holds DATA's validation and "
                 "held-out photos uncropped (e.g. ../shared/data/celeba_wild_val); needs --detector");
  sub.add_option("--detector", o->detector, "With --wild: the face detector (ours or a converted MTCNN)");
  sub.add_option("--detect-threshold", o->detect_threshold, "With --wild: the detector's score threshold [default: its own]")
      ->check(CLI::Range(0.0, 1.0));
  sub.add_flag("--detector-landmarks", o->detector_landmarks,
               "With --wild: align by the detector's five points instead of the landmark network's");
  sub.add_option("--pair-seed", o->pair_seed, "Seed of the random different-identity pairs and the folds")
      ->capture_default_str();
  return [o]() {
    ff::EmbedEvalResult r = ff::eval_embed(*o);
    std::cout << r.table;
    if (!o->out.empty()) std::cout << "wrote " << o->out << "/metrics.csv, roc.csv, roc.svg\n";
    return 0;
  };
});

}  // namespace
