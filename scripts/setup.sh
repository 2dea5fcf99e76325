#!/usr/bin/env bash
# scripts/setup.sh — install what faceforge's build and tests need on Debian (run as root; a
# no-op when everything is present). CUDA (nvcc, cuBLAS, cuDNN) is not installed here: where it
# exists under /usr/local/cuda the CUDA backend is built too.
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config libopenblas-dev libstb-dev nlohmann-json3-dev
      libgtest-dev libbenchmark-dev libcli11-dev libcairo2-dev fonts-dejavu-core python3-torch
      python3-torchvision python3-opencv python3-numpy)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
