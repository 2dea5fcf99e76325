// apps/cmd_eval_verify.cpp — `faceforge eval-verify`: a face-embedding model on a list of photo
// pairs with LFW's protocol (face/verify_eval.h), e.g.
//   faceforge eval-verify --pairs lfw/pairs.txt --images lfw/lfw --model runs/emb/best.safetensors
//       --detector mtcnn.safetensors --landmarks-model runs/lmk/best.safetensors --out runs/emb/lfw
#include <cstdio>
#include <memory>

#include "apps/commands.h"
#include "face/verify_eval.h"

namespace {

ff::app::Command reg(
    "eval-verify", "Verification on a pairs list (LFW's pairs.txt or a plain list), LFW's protocol", [](CLI::App& sub) {
      auto o = std::make_shared<ff::VerifyEvalOptions>();
      sub.footer(
          "The list: LFW's pairs.txt (a header \"FOLDS N\", then per fold N lines \"name n1 n2\" of one person\n"
          "and N lines \"name1 n1 name2 n2\" of two; photo n of a person is name/name_000n.jpg), or a plain\n"
          "list of \"a.jpg b.jpg 1|0\" lines (1: the same person) with an optional first line \"folds F\"\n"
          "(tools/make_pairs.py writes one from a CelebA-format folder). Names are relative to --images.\n"
          "Each photo: its largest face found by --detector, five landmarks from that box by the hourglass\n"
          "(or the detector's own with --detector-landmarks, or read from --landmarks), aligned to the\n"
          "template at the model's input size, embedded with its mirror. A pair scores the cosine\n"
          "similarity; a photo that cannot be read or shows no face is listed and its pairs score 0.\n"
          "LFW's protocol: per fold, the threshold best on the other folds is tested on it; mean +- std\n"
          "over the folds. Also ROC AUC and TAR at FAR 1e-1, 1e-2, 1e-3. With --out: metrics.csv,\n"
          "scores.csv (every pair, its fold's threshold and whether it was decided right), roc.csv,\n"
          "roc.png, roc.svg, failed_photos.csv and failed_pairs.png (the worst-decided pairs).");
      sub.add_option("--pairs", o->pairs, "The pairs list")->required();
      sub.add_option("--images", o->images, "The folder the list's photo names are relative to")->required();
      sub.add_option("--model", o->model, "Embedding model file (RUN/best.safetensors of train-embed)")->required();
      sub.add_option("--out", o->out, "Folder for the metrics, scores, ROC and contact sheet");
      sub.add_option("--landmarks", o->landmarks,
                     "Align by these five points (CelebA's list_landmarks_celeba.txt format, the list's photo names) "
                     "instead of detecting");
      sub.add_option("--detector", o->detector,
                     "Face detector file: ours (train-detector) or MTCNN converted by tools/convert_mtcnn.py "
                     "[default: demo_out/detector/best.safetensors]");
      sub.add_option("--detect-threshold", o->detect_threshold,
                     "Detector score threshold [default: the detector's own]")
          ->check(CLI::Range(0.0, 1.0));
      sub.add_flag("--detector-landmarks", o->detector_landmarks,
                   "Align by the detector's five points instead of the landmark network's");
      sub.add_option("--landmarks-model", o->landmarks_model,
                     "Landmark model file [default: the one the embedding model was trained with, else "
                     "demo_out/landmarks/best.safetensors]");
      sub.add_option("--batch", o->batch, "Faces per forward")->check(CLI::Range(1, 4096))->capture_default_str();
      sub.add_option("--workers", o->workers, "Threads decoding photos")
          ->check(CLI::Range(0, 256))
          ->capture_default_str();
      sub.add_option("--sheet-pairs", o->sheet_pairs, "Failed pairs drawn in failed_pairs.png")
          ->check(CLI::Range(0, 1000))
          ->capture_default_str();
      sub.add_flag("--quiet", o->quiet, "No progress lines");
      return [o] {
        ff::VerifyEvalResult r = ff::eval_verify(*o);
        std::fputs(r.table.c_str(), stdout);
        if (!o->out.empty()) {
          std::printf("wrote");
          for (const std::string& f : r.written) std::printf(" %s/%s", o->out.c_str(), f.c_str());
          std::printf("\n");
        }
        return 0;
      };
    });

}  // namespace
