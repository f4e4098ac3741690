#!/usr/bin/env bash
# Removes the edgebind service, its udev rules and the app in /opt/edgebind. Keeps the config
# (/etc/edgebind), the state and packs (/var/lib/edgebind) and the user unless --purge.
#
#   sudo deploy/uninstall.sh [--dry-run] [--purge]
set -euo pipefail

APP_DIR=${EDGEBIND_APP_DIR:-/opt/edgebind}
CONF_DIR=${EDGEBIND_CONF_DIR:-/etc/edgebind}
STATE_DIR=${EDGEBIND_STATE_DIR:-/var/lib/edgebind}
UNIT_DIR=${EDGEBIND_UNIT_DIR:-/etc/systemd/system}
UDEV_DIR=${EDGEBIND_UDEV_DIR:-/etc/udev/rules.d}
MODULES_DIR=${EDGEBIND_MODULES_DIR:-/etc/modules-load.d}
SERVICE_USER=edgebind

DRY_RUN=0
PURGE=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --purge) PURGE=1 ;;
    -h | --help)
      sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "uninstall.sh: unknown option $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

say() { printf '==> %s\n' "$*"; }
run() {
  printf '  + %s\n' "$*"
  if [ "$DRY_RUN" -eq 0 ]; then "$@"; fi
}
if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "uninstall.sh: run as root (or try --dry-run)" >&2
  exit 1
fi
if [ "$DRY_RUN" -eq 1 ]; then say "dry run: nothing below is changed"; fi

say "service"
if command -v systemctl >/dev/null && [ -e "$UNIT_DIR/edgebind.service" ]; then
  run systemctl disable --now edgebind.service || true
fi
run rm -f "$UNIT_DIR/edgebind.service"
if command -v systemctl >/dev/null; then run systemctl daemon-reload; fi

say "udev rules and modules-load entry"
run rm -f "$UDEV_DIR/99-edgebind.rules" "$MODULES_DIR/edgebind.conf"
if command -v udevadm >/dev/null; then run udevadm control --reload-rules; fi

say "app"
run rm -rf "$APP_DIR" "$APP_DIR.new" "$APP_DIR.old"

if [ "$PURGE" -eq 1 ]; then
  say "purge: config, state and user"
  run rm -rf "$CONF_DIR" "$STATE_DIR"
  if getent passwd "$SERVICE_USER" >/dev/null; then run userdel "$SERVICE_USER"; fi
else
  say "kept $CONF_DIR, $STATE_DIR and user $SERVICE_USER (--purge removes them)"
fi
