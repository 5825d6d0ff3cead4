#!/bin/sh
# Put Diffusion Studio in the desktop's application menu for the current user (no root needed):
# the .desktop file, the hicolor icons and the AppStream metainfo go under ${XDG_DATA_HOME:-~/.local/share}.
#
#   packaging/linux/install-desktop-entry.sh                 # uses `diffusion-studio` found on PATH (pip install)
#   packaging/linux/install-desktop-entry.sh --exec PATH     # a given executable, e.g. a venv's bin/diffusion-studio
#                                                            # or the PyInstaller bundle's dist/diffusion-studio/diffusion-studio
#   packaging/linux/install-desktop-entry.sh --uninstall
#
# Exec= is written with the executable's absolute path, so the menu entry works even when the program lives in a
# virtual environment that is not on the desktop session's PATH.
set -eu

APP_ID=io.github.diffusionstudio.DiffusionStudio
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ICONS="$ROOT/resources/icons"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
EXEC=""
MODE=install

while [ $# -gt 0 ]; do
    case "$1" in
        --exec) EXEC="$2"; shift 2 ;;
        --exec=*) EXEC="${1#--exec=}"; shift ;;
        --uninstall) MODE=uninstall; shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

SIZES="16 24 32 48 64 128 256 512"

refresh() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$DATA/applications" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
}

if [ "$MODE" = uninstall ]; then
    rm -f "$DATA/applications/$APP_ID.desktop" "$DATA/metainfo/$APP_ID.metainfo.xml" \
          "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
    for n in $SIZES; do rm -f "$DATA/icons/hicolor/${n}x${n}/apps/$APP_ID.png"; done
    refresh
    echo "removed the $APP_ID desktop entry from $DATA"
    exit 0
fi

if [ -z "$EXEC" ]; then
    EXEC=$(command -v diffusion-studio || true)
    if [ -z "$EXEC" ]; then
        echo "diffusion-studio is not on PATH: pip install it first, or pass --exec /path/to/diffusion-studio" >&2
        exit 1
    fi
fi
case "$EXEC" in /*) ;; *) EXEC="$(cd "$(dirname "$EXEC")" && pwd)/$(basename "$EXEC")" ;; esac
if [ ! -x "$EXEC" ]; then
    echo "not an executable: $EXEC" >&2
    exit 1
fi
for n in $SIZES; do
    if [ ! -f "$ICONS/hicolor/${n}x${n}/apps/$APP_ID.png" ]; then
        echo "missing $ICONS/hicolor/${n}x${n}/apps/$APP_ID.png: run python packaging/make_icons.py" >&2
        exit 1
    fi
done

mkdir -p "$DATA/applications" "$DATA/metainfo" "$DATA/icons/hicolor/scalable/apps"
# Desktop Entry spec: an Exec argument with spaces is double-quoted; quotes, $, ` and \ would need more escaping.
case "$EXEC" in
    *[\"\$\`\\]*) echo "cannot write a path with \", \$, \` or \\ into Exec=: $EXEC" >&2; exit 1 ;;
    *\ *) QUOTED="\"$EXEC\"" ;;
    *) QUOTED="$EXEC" ;;
esac
sed_escape() { printf '%s' "$1" | sed 's/[&|]/\\&/g'; }
sed -e "s|^Exec=diffusion-studio |Exec=$(sed_escape "$QUOTED") |" -e "s|^TryExec=.*|TryExec=$(sed_escape "$EXEC")|" \
    "$HERE/$APP_ID.desktop" > "$DATA/applications/$APP_ID.desktop"
cp "$HERE/$APP_ID.metainfo.xml" "$DATA/metainfo/$APP_ID.metainfo.xml"
cp "$ICONS/diffusion-studio.svg" "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
for n in $SIZES; do
    mkdir -p "$DATA/icons/hicolor/${n}x${n}/apps"
    cp "$ICONS/hicolor/${n}x${n}/apps/$APP_ID.png" "$DATA/icons/hicolor/${n}x${n}/apps/$APP_ID.png"
done
refresh
echo "installed $DATA/applications/$APP_ID.desktop (Exec=$QUOTED %F), icons and metainfo"
