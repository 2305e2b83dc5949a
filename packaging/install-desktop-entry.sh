#!/usr/bin/env bash
# Put GDD Studio in the desktop's application menu, for the current user only:
# resources/gdd-studio.desktop into $XDG_DATA_HOME/applications and the icons into
# $XDG_DATA_HOME/icons/hicolor/<size>/apps ($XDG_DATA_HOME defaults to ~/.local/share).
#
#   packaging/install-desktop-entry.sh                     # pip-installed gdd-studio on PATH
#   packaging/install-desktop-entry.sh --exec "$PWD/dist/gdd-studio/gdd-studio"   # a bundle
#   packaging/install-desktop-entry.sh --uninstall
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
resources="$(dirname "$here")/resources"
data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data_home/applications"
hicolor="$data_home/icons/hicolor"
sizes=(16 32 48 64 128 256 512)

exec_path=""
uninstall=0
while (($#)); do
  case "$1" in
    --exec) exec_path="${2:?--exec needs the path of the gdd-studio executable}"; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    -h | --help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-desktop-entry.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

refresh() {
  # Desktops rescan these folders when their time stamp changes. No icon-theme.cache is
  # written here: a user-level cache goes stale when other apps add icons, and hides them.
  touch "$apps" "$hicolor" 2>/dev/null || true
}

if ((uninstall)); then
  rm -f "$apps/gdd-studio.desktop" "$hicolor/scalable/apps/gdd-studio.svg"
  for size in "${sizes[@]}"; do rm -f "$hicolor/${size}x${size}/apps/gdd-studio.png"; done
  refresh
  echo "removed the GDD Studio desktop entry and icons from $data_home"
  exit 0
fi

if [[ -n "$exec_path" ]]; then
  exec_path="$(cd "$(dirname "$exec_path")" && pwd)/$(basename "$exec_path")"
  [[ -x "$exec_path" ]] || { echo "install-desktop-entry.sh: $exec_path is not an executable" >&2; exit 2; }
elif ! command -v gdd-studio >/dev/null; then
  echo "install-desktop-entry.sh: warning: gdd-studio is not on PATH; the menu entry" \
    "shows once it is (pip install .), or pass --exec PATH" >&2
fi

install -d "$apps" "$hicolor/scalable/apps"
for size in "${sizes[@]}"; do
  install -D -m 644 "$resources/icons/gdd-studio-$size.png" \
    "$hicolor/${size}x${size}/apps/gdd-studio.png"
done
install -m 644 "$resources/icons/gdd-studio.svg" "$hicolor/scalable/apps/gdd-studio.svg"
if [[ -n "$exec_path" ]]; then
  # Quote the path as the desktop-entry spec asks (it may hold spaces).
  quoted="\"$(printf '%s' "$exec_path" | sed 's/[\\"`$]/\\\\&/g')\""
  sed -e "s|^Exec=.*|Exec=$quoted|" -e "s|^TryExec=.*|TryExec=$exec_path|" \
    "$resources/gdd-studio.desktop" >"$apps/gdd-studio.desktop"
  chmod 644 "$apps/gdd-studio.desktop"
else
  install -m 644 "$resources/gdd-studio.desktop" "$apps/gdd-studio.desktop"
fi
refresh
echo "installed $apps/gdd-studio.desktop and icons under $hicolor"
