#!/usr/bin/env bash
# scripts/install.sh [BUILD_DIR] — puts the built faceforge command on PATH: cmake --install into
# FF_PREFIX (default /usr/local as root, ~/.local otherwise), and says where it went.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
if [ "$(id -u)" = 0 ]; then PREFIX=${FF_PREFIX:-/usr/local}; else PREFIX=${FF_PREFIX:-$HOME/.local}; fi
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
echo "== installed $PREFIX/bin/faceforge"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "   $PREFIX/bin is not on PATH here: export PATH=\"$PREFIX/bin:\$PATH\" (or run ./$BUILD/faceforge)" ;;
esac
