// report/glossary.h — one sentence for each metric the reports show, written once so every report
// explains a figure the same way, beside it. Definitions: train/metrics.h.
#pragma once

namespace ff::glossary {

inline constexpr const char* kNme =
    "NME (normalised mean error): the distance from each predicted landmark to the true one, divided by the "
    "distance between the two true eyes (inter-ocular), averaged over the five points and then over the images; "
    "lower is better.";
inline constexpr const char* kFailureRate =
    "Failure rate: the fraction of images whose NME is above 0.1, a tenth of the eye distance.";
inline constexpr const char* kCedAuc =
    "CED AUC: the area under the cumulative error distribution (the fraction of images with NME at most e, for e "
    "from 0 to 0.1), divided by 0.1, so 1 means every landmark is exact and 0 that every image fails.";
inline constexpr const char* kClosedSet =
    "Closed-set top-1: the fraction of validation photos of the training identities that the network's "
    "classification head (ArcFace's) assigns to their own identity; with flip TTA the head's scores for the photo "
    "and for its mirror are averaged first.";
inline constexpr const char* kRocAuc =
    "ROC AUC: the probability that a random pair of photos of one person has a higher cosine similarity than a "
    "random pair of two people (the area under the ROC curve); 0.5 is chance, 1 is perfect.";
inline constexpr const char* kTarAtFar =
    "TAR at FAR: the fraction of same-person pairs accepted (true accept rate) by the cosine threshold that "
    "accepts the most of them while accepting no more than the given fraction of different-person pairs (false "
    "accept rate).";
inline constexpr const char* kTenFold =
    "10-fold accuracy: the pairs are dealt into 10 folds; each fold is judged with the cosine threshold that is "
    "most accurate on the other nine, and the ten accuracies are averaged (the LFW protocol), so no threshold is "
    "tuned on the pairs it is scored on.";

}  // namespace ff::glossary
