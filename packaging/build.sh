#!/usr/bin/env bash
# Build the one-folder bundle dist/gdd-studio/ (executables gdd-studio and gdd-studio-cli)
# with PyInstaller, print its size and check that the window starts.
#
#   packaging/build.sh            # with the current Python environment and its torch
#   packaging/build.sh --cpu      # in a fresh venv build/venv-cpu with CPU-only torch
#   packaging/build.sh --cuda     # in a fresh venv build/venv-cuda with PyPI's torch
#                                 # (on Linux that wheel brings CUDA: gigabytes)
#
# Environment: PYTHON (default: python3) runs the build; GDD_BUILD_NO_CHECK=1 skips the
# start-up check. Arguments after the option go to PyInstaller. See packaging/README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-python3}"
if [[ "$python" == */* && "$python" != /* ]]; then python="${PWD%/}/$python"; fi
# From the repository root: python -m puts the working folder first on the module search
# path, and relative paths among PyInstaller's arguments are taken from there.
cd "$root"
cpu_index="https://download.pytorch.org/whl/cpu"

venv_kind=""
case "${1:-}" in
  --cpu | --cuda) venv_kind="${1#--}"; shift ;;
  -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

if [[ -n "$venv_kind" ]]; then
  venv="$root/build/venv-$venv_kind"
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "== creating $venv"
    "$python" -m venv "$venv"
    if [[ "$venv_kind" == cpu ]]; then
      # Both from the CPU index, so torchvision matches that torch build.
      "$venv/bin/python" -m pip install torch torchvision --index-url "$cpu_index"
    fi
  fi
  python="$venv/bin/python"
  echo "== installing GDD Studio and PyInstaller into $venv"
  extra=()  # with the CPU index in view, pip never swaps in PyPI's CUDA torch
  [[ "$venv_kind" == cpu ]] && extra=(--extra-index-url "$cpu_index")
  "$python" -m pip install "$root[bundle]" ${extra[@]+"${extra[@]}"}
fi

if ! "$python" -c "import gdd_studio, torch, PySide6" 2>/dev/null; then
  echo "build.sh: $python cannot import gdd_studio, torch and PySide6;" \
    "install the app first (pip install .) or use --cpu / --cuda" >&2
  exit 2
fi
if ! "$python" -m PyInstaller --version >/dev/null 2>&1; then
  echo "== installing PyInstaller"
  "$python" -m pip install "pyinstaller>=6.10"
fi

"$python" - <<'PY'
import PyInstaller, torch
cuda = torch.version.cuda
print(f"== PyInstaller {PyInstaller.__version__}, torch {torch.__version__}: "
      + (f"CUDA {cuda} libraries go into the bundle (gigabytes)" if cuda else "CPU only"))
PY

"$python" -m PyInstaller --noconfirm \
  --distpath "$root/dist" --workpath "$root/build/pyinstaller" \
  "$here/gdd-studio.spec" "$@"

bundle="$root/dist/gdd-studio"
echo "== built $bundle: $(du -sh "$bundle" | cut -f1)"

if [[ "${GDD_BUILD_NO_CHECK:-0}" != 1 ]]; then
  echo "== start-up check (offscreen)"
  check_home="$(mktemp -d)"
  trap 'rm -rf "$check_home"' EXIT
  QT_QPA_PLATFORM=offscreen GDD_STUDIO_HOME="$check_home" GDD_STUDIO_QUIT_AFTER_SHOW=1 \
    "$bundle/gdd-studio"
  "$bundle/gdd-studio-cli" datasets >/dev/null
  echo "== ok: $bundle/gdd-studio starts the window"
fi
