#!/usr/bin/env bash
# Build the one-folder desktop bundle on the machine it targets (Linux, macOS, or Windows under Git Bash/MSYS).
#
#   packaging/build.sh            # -> dist/diffusion-studio/ (Linux, Windows) or dist/Diffusion Studio.app (macOS)
#
# Steps: a build virtual environment (build/venv, reused), the project and PyInstaller installed into it with a
# CPU-only torch, the icons rendered from their SVG, PyInstaller run on packaging/diffusion-studio.spec, a smoke test
# of the result, then its size and the build time.
#
# Environment:
#   PYTHON=python3.11                 interpreter for the build venv (default: python3, or python on Windows)
#   BUILD_VENV=build/venv             where the build venv lives
#   TORCH_SPEC="torch==2.13.0"        the torch to bundle; it must be a CPU build (checked before anything is installed)
#   TORCH_INDEX=URL                   an extra package index holding CPU torch wheels (PyTorch publishes one), for
#                                     Linux machines where the default index would give the CUDA build
#   ALLOW_CUDA_TORCH=1                skip the CPU check (a bundle of several GB: not what we ship)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
START=$(date +%s)

case "$(uname -s)" in
    Linux*) PLATFORM=linux ;;
    Darwin*) PLATFORM=macos ;;
    MINGW*|MSYS*|CYGWIN*) PLATFORM=windows ;;
    *) PLATFORM=unknown ;;
esac
if [ "$PLATFORM" = windows ]; then DEFAULT_PYTHON=python; else DEFAULT_PYTHON=python3; fi
PYTHON=${PYTHON:-$DEFAULT_PYTHON}
VENV=${BUILD_VENV:-build/venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
PIP_EXTRA=()
if [ -n "${TORCH_INDEX:-}" ]; then PIP_EXTRA+=(--extra-index-url "$TORCH_INDEX"); fi

step() { printf '\n== %s (%ss)\n' "$1" "$(( $(date +%s) - START ))"; }

step "build venv: $VENV"
if [ ! -e "$VENV/bin/python" ] && [ ! -e "$VENV/Scripts/python.exe" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if [ -e "$VENV/Scripts/python.exe" ]; then PY="$VENV/Scripts/python.exe"; else PY="$VENV/bin/python"; fi
"$PY" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' || {
    echo "the build venv needs Python 3.10 or newer" >&2; exit 1; }

step "checking that '$TORCH_SPEC' resolves to a CPU build"
if [ "${ALLOW_CUDA_TORCH:-0}" != 1 ]; then
    REPORT="$VENV/torch-resolution.json"
    "$PY" -m pip install --quiet --dry-run --ignore-installed --report "$REPORT" ${PIP_EXTRA[@]+"${PIP_EXTRA[@]}"} "$TORCH_SPEC"
    "$PY" - "$REPORT" <<'EOF'
import json, sys
items = json.load(open(sys.argv[1], encoding="utf-8"))["install"]
names = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in items}
torch_version = names.get("torch", "?")
cuda = [n for n in names if n.startswith(("nvidia-", "triton"))] or (["torch " + torch_version] if "+cu" in torch_version or "+rocm" in torch_version else [])
if cuda:
    sys.exit(f"pip would install a GPU torch ({', '.join(sorted(cuda))}): set TORCH_INDEX to an index of CPU wheels, "
             "TORCH_SPEC to a CPU wheel file, or ALLOW_CUDA_TORCH=1")
print(f"torch {torch_version}: CPU build")
EOF
fi

step "installing the project, $TORCH_SPEC and PyInstaller"
"$PY" -m pip install --quiet ${PIP_EXTRA[@]+"${PIP_EXTRA[@]}"} "$TORCH_SPEC" . "pyinstaller>=6.10"
"$PY" -c 'import torch, PyInstaller, diffusion_studio as d; print(f"diffusion-studio {d.__version__}, torch {torch.__version__} (cuda: {torch.version.cuda}), PyInstaller {PyInstaller.__version__}")'

step "icons from resources/icons/diffusion-studio.svg"
QT_QPA_PLATFORM=offscreen "$PY" packaging/make_icons.py

step "PyInstaller"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/diffusion-studio.spec

step "smoke test"
case "$PLATFORM" in
    macos) APP="dist/Diffusion Studio.app"; EXE="$APP/Contents/MacOS/diffusion-studio" ;;
    windows) APP="dist/diffusion-studio"; EXE="$APP/diffusion-studio-cli.exe" ;;
    *) APP="dist/diffusion-studio"; EXE="$APP/diffusion-studio" ;;
esac
"$EXE" --version
"$EXE" models >/dev/null && echo "models: ok"

END=$(date +%s)
SIZE=$(du -sh "$APP" | cut -f1)
FILES=$(find "$APP" -type f | wc -l | tr -d ' ')
printf '\nbuilt %s: %s in %s files, in %d min %02d s\n' "$APP" "$SIZE" "$FILES" $(( (END - START) / 60 )) $(( (END - START) % 60 ))
