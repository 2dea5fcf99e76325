#!/usr/bin/env bash
# scripts/gpu_bundle.sh — builds here (Debian, no GPU) everything scripts/gpu_check.sh runs on a
# bare GPU machine, for sm_90, and packs it into the one folder that travels with the tree.
#
#   bash scripts/gpu_bundle.sh          # configure + build build-gpu/ (-DFF_GPU_BUNDLE=ON), stage,
#                                       # check, pack; JOBS=2 by default (nice -n 5)
#   then, with the device tool:  run(command="bash scripts/gpu_check.sh", carry=["build-gpu/carry"])
#
# What it makes:
#   build-gpu/bundle/bin/   ff_tests, ff_bench_cuda, faceforge (the CLI ff_tests runs) and
#                           ff_gpu_libs (tools/gpu_libs.cpp: the versions loaded), stripped;
#                           OpenBLAS, libgomp, libstdc++, libgcc and the CUDA runtime linked in
#                           (CMakeLists.txt, block "GPU bundle"); cuBLAS and cuDNN left shared;
#   build-gpu/bundle/lib/   the shared libraries the programs need that a machine without our
#                           Debian packages lacks (Cairo and its dependencies), found through
#                           the programs' RPATH $ORIGIN/../lib;
#   build-gpu/bundle/fonts/ DejaVuSans.ttf, the face the charts are laid out with;
#   build-gpu/bundle/VERSIONS   commit, compilers, the cuBLAS/cuDNN headers built against;
#   build-gpu/carry/ff-gpu-bundle.tar.gz   the bundle, packed (gzip: on every system; the three
#                           programs hold OpenBLAS's ~25 MB each, ~90 MB unpacked); carried, and
#                           unpacked by gpu_check.sh into build-gpu/bundle/ on the GPU machine.
# Checks (it fails on any): every ELF file asks glibc for at most GLIBC_2.36 (this Debian's; any
# newer glibc provides it), no program needs a library outside the allowed system set, cuBLAS and
# cuDNN, and the tree that travels plus build-gpu/carry is at most 64 MiB.
# The dry run that proves it without a GPU (a Debian chroot without our packages) is described
# in scripts/gpu_check.sh's header and docs/gpu-log.md (2026-12-02).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-gpu
BUNDLE=$BUILD/bundle
CARRY=$BUILD/carry
JOBS=${JOBS:-2}
MAX_GLIBC=2.36
# Libraries every glibc system has (and the GPU machine's own CUDA libraries): never carried.
SYSTEM_RE='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libgcc_s\.so\.1|libstdc\+\+\.so\.6|libz\.so\.1|libcublas\.so\.13|libcublasLt\.so\.13|libcudnn\.so\.9|libcuda\.so\.1)$'

t0=$(date +%s)
if [ ! -f $BUILD/CMakeCache.txt ] || ! grep -q '^FF_GPU_BUNDLE:BOOL=ON' $BUILD/CMakeCache.txt; then
  cmake -S . -B $BUILD -G Ninja -DFF_GPU_BUNDLE=ON -DFF_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_BUILD_TYPE=Release
fi
nice -n 5 cmake --build $BUILD -j "$JOBS" --target ff_tests ff_bench_cuda faceforge_cli ff_gpu_libs
echo "build: $(( $(date +%s) - t0 )) s"

rm -rf "$BUNDLE" "$CARRY"
mkdir -p "$BUNDLE/bin" "$BUNDLE/lib" "$CARRY"
for p in ff_tests ff_bench_cuda faceforge ff_gpu_libs; do
  strip -o "$BUNDLE/bin/$p" "$BUILD/$p"
done

# The shared libraries to carry: what ldd resolves here for each program, outside SYSTEM_RE.
for p in "$BUNDLE"/bin/*; do
  ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done | sort -u | while read -r soname path; do
  if ! [[ $soname =~ $SYSTEM_RE ]]; then cp -L "$path" "$BUNDLE/lib/$soname"; fi
done
strip --strip-unneeded "$BUNDLE"/lib/* 2>/dev/null || true
# The one font the reports draw with (report/cairo_util.cpp): without it Cairo measures text with
# another face, the chart layout moves and Chart.* fail (seen in the dry run's chroot).
# gpu_check.sh points FONTCONFIG_FILE at a config naming only this folder.
mkdir -p "$BUNDLE/fonts"
cp -L "$(fc-match -f '%{file}' 'DejaVu Sans')" "$BUNDLE/fonts/DejaVuSans.ttf"
cp /usr/share/doc/fonts-dejavu-core/copyright "$BUNDLE/fonts/DejaVuSans.copyright" 2>/dev/null || true

fail=0
# 1. glibc symbol versions.
for f in "$BUNDLE"/bin/* "$BUNDLE"/lib/*; do
  v=$(objdump -T "$f" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
  if [ "$(printf '%s\n%s\n' "$v" "$MAX_GLIBC" | sort -V | tail -1)" != "$MAX_GLIBC" ]; then
    echo "FAIL: $f needs GLIBC_$v (> $MAX_GLIBC)"; fail=1
  fi
done
# 2. What the programs still need from the system, read from their NEEDED entries.
for p in "$BUNDLE"/bin/*; do
  needed=$(readelf -d "$p" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  rpath=$(readelf -d "$p" | sed -n 's/.*(RPATH).*\[\(.*\)\]/\1/p')
  echo "$(basename "$p"): RPATH ${rpath:-none}; NEEDED $needed"
  [ "$rpath" = '$ORIGIN/../lib' ] || { echo "FAIL: $p: RPATH is '$rpath', not \$ORIGIN/../lib"; fail=1; }
  for n in $needed; do
    [[ $n =~ $SYSTEM_RE ]] || [ -e "$BUNDLE/lib/$n" ] || { echo "FAIL: $p needs $n, neither system nor carried"; fail=1; }
    case $n in libopenblas*|libgomp*|libstdc++*|libcudart*|libgtest*) echo "FAIL: $p needs $n (should be static)"; fail=1 ;; esac
  done
done

# 3. Versions, for gpu_check.sh to print beside the ones loaded there.
hdr() { sed -n "s/^#define $1 *\([0-9]*\).*/\1/p" "$2" | head -1; }
CUDNN_H=$(grep '^CUDNN_INCLUDE_DIR:' $BUILD/CMakeCache.txt | cut -d= -f2)/cudnn_version.h
NVCC=$(sed -n 's/^set(CMAKE_CUDA_COMPILER "\(.*\)")$/\1/p' $BUILD/CMakeFiles/*/CMakeCUDACompiler.cmake | head -1)
CUBLAS_H=$(dirname "$NVCC")/../include/cublas_api.h
{
  echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs' 2>/dev/null || echo '+uncommitted changes')"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release; echo "$PRETTY_NAME"), glibc $(ldd --version | head -1 | awk '{print $NF}')"
  echo "nvcc $("$NVCC" --version | sed -n 's/.*release \([0-9.]*\), V\([0-9.]*\).*/\2/p'), archs $(grep '^CMAKE_CUDA_ARCHITECTURES:' $BUILD/CMakeCache.txt | cut -d= -f2)"
  echo "cuDNN headers $(hdr CUDNN_MAJOR "$CUDNN_H").$(hdr CUDNN_MINOR "$CUDNN_H").$(hdr CUDNN_PATCHLEVEL "$CUDNN_H")"
  echo "cuBLAS headers $(hdr CUBLAS_VER_MAJOR "$CUBLAS_H").$(hdr CUBLAS_VER_MINOR "$CUBLAS_H").$(hdr CUBLAS_VER_PATCH "$CUBLAS_H")"
  echo "gcc $(gcc -dumpfullversion); carried: $(cd "$BUNDLE/lib" && ls | tr '\n' ' ')"
} > "$BUNDLE/VERSIONS"
cat "$BUNDLE/VERSIONS"

tar -czf "$CARRY/ff-gpu-bundle.tar.gz" -C "$BUILD" bundle
cp "$BUNDLE/VERSIONS" "$CARRY/VERSIONS"

# 4. Size of what travels: tracked files, untracked files git does not ignore, shared/, the carry.
sum() { tr '\0' '\n' | while read -r f; do [ -f "$f" ] && stat -c %s "$f"; done | awk '{s += $1} END {print s + 0}'; }
tracked=$(git ls-files -z | sum)
untracked=$(git ls-files -z --others --exclude-standard | sum)
shared=0; [ -d shared ] && shared=$(find shared -type f -print0 | sum)
unpacked=$(du -sb "$BUNDLE" | cut -f1)
carried=$(du -sb "$CARRY" | cut -f1)
total=$(( tracked + untracked + shared + carried ))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "sizes: tracked $(mib $tracked), untracked $(mib $untracked), shared/ $(mib $shared), carry $(mib $carried) (bundle unpacked $(mib $unpacked)); travels $(mib $total) of 64 MiB"
[ "$total" -le $(( 64 << 20 )) ] || { echo "FAIL: over 64 MiB"; fail=1; }
[ $fail = 0 ] || { echo "gpu_bundle: FAILED"; exit 1; }
echo "gpu_bundle: OK in $(( $(date +%s) - t0 )) s; carry [\"$CARRY\"] and run: bash scripts/gpu_check.sh"
