#!/usr/bin/env bash
# Installs edgebind as a systemd service on Debian, Ubuntu or JetPack (aarch64 or x86-64).
# Run from a built checkout (`npm ci && npm run build`) as root. Safe to run again: it upgrades
# the app, keeps /etc/edgebind and /var/lib/edgebind, and restarts the service.
#
#   sudo deploy/install.sh [--dry-run] [--no-start] [--copy-node-modules]
#
# --dry-run            print every change it would make, change nothing (root not needed)
# --no-start           install and enable, but do not (re)start the service
# --copy-node-modules  copy this checkout's node_modules (pruned later by you) instead of
#                      running `npm ci --omit=dev` (for devices without registry access)
#
# EDGEBIND_APP_DIR, _CONF_DIR, _STATE_DIR, _UNIT_DIR, _UDEV_DIR, _MODULES_DIR and EDGEBIND_SRC move
# the paths for tests and staging only: the unit's StateDirectory=/ConfigurationDirectory= stay
# /var/lib/edgebind and /etc/edgebind.
set -euo pipefail

APP_DIR=${EDGEBIND_APP_DIR:-/opt/edgebind}
CONF_DIR=${EDGEBIND_CONF_DIR:-/etc/edgebind}
STATE_DIR=${EDGEBIND_STATE_DIR:-/var/lib/edgebind}
UNIT_DIR=${EDGEBIND_UNIT_DIR:-/etc/systemd/system}
UDEV_DIR=${EDGEBIND_UDEV_DIR:-/etc/udev/rules.d}
MODULES_DIR=${EDGEBIND_MODULES_DIR:-/etc/modules-load.d}
SERVICE_USER=edgebind
GROUPS_NEEDED=(audio i2c dialout video render)
NODE_MIN_MAJOR=20

DRY_RUN=0
START=1
COPY_MODULES=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --no-start) START=0 ;;
    --copy-node-modules) COPY_MODULES=1 ;;
    -h | --help)
      sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "install.sh: unknown option $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

# The checkout to install from: this script's parent directory.
SRC=${EDGEBIND_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}
# Every change goes through run: printed, and skipped in a dry run.
run() {
  printf '  + %s\n' "$*"
  if [ "$DRY_RUN" -eq 0 ]; then "$@"; fi
}

# --- checks (read-only; they run in a dry run too) ---------------------------------------------
if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then die "run as root (or try --dry-run)"; fi

ARCH=$(uname -m)
case "$ARCH" in
  aarch64 | arm64 | x86_64 | amd64) ;;
  *) warn "untested architecture $ARCH (onnxruntime-node ships x64 and arm64 builds)" ;;
esac
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  case " ${ID:-} ${ID_LIKE:-} " in
    *" debian "* | *" ubuntu "*) ;;
    *) warn "untested distribution ${PRETTY_NAME:-$ID}; this script expects Debian or Ubuntu" ;;
  esac
fi
if [ -r /etc/nv_tegra_release ]; then say "Jetson detected: $(head -n1 /etc/nv_tegra_release | cut -c1-60)"; fi

NODE_BIN=$(command -v node || true)
[ -n "$NODE_BIN" ] || die "node not found; install Node.js >= $NODE_MIN_MAJOR (e.g. from NodeSource)"
NODE_VERSION=$("$NODE_BIN" -p 'process.versions.node' 2>/dev/null || echo 0)
if [ "${NODE_VERSION%%.*}" -lt "$NODE_MIN_MAJOR" ] 2>/dev/null; then
  die "Node.js $NODE_VERSION at $NODE_BIN is too old; edgebind needs >= $NODE_MIN_MAJOR"
fi
NODE_BIN=$(readlink -f "$NODE_BIN")
say "Node.js $NODE_VERSION at $NODE_BIN, $ARCH"

[ -f "$SRC/dist/cli/index.js" ] || die "$SRC/dist is missing; run 'npm ci && npm run build' first"
[ -f "$SRC/systemd/edgebind.service" ] || die "$SRC/systemd/edgebind.service is missing"
if [ "$COPY_MODULES" -eq 0 ] && ! command -v npm >/dev/null; then
  die "npm not found (or pass --copy-node-modules)"
fi
if [ "$DRY_RUN" -eq 1 ]; then say "dry run: nothing below is changed"; fi

# --- user and groups -----------------------------------------------------------------------------
say "system user $SERVICE_USER"
for g in "${GROUPS_NEEDED[@]}"; do
  # systemd refuses to start a unit whose SupplementaryGroups= names a missing group.
  if ! getent group "$g" >/dev/null; then run groupadd --system "$g"; fi
done
if getent passwd "$SERVICE_USER" >/dev/null; then
  printf '  = user %s exists\n' "$SERVICE_USER"
else
  run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
    --shell /usr/sbin/nologin --comment "edgebind agent" "$SERVICE_USER"
fi

# --- device access ------------------------------------------------------------------------------
say "udev rules for I2C, serial, V4L2, ALSA and render nodes"
run install -D -m 0644 "$SRC/deploy/99-edgebind.rules" "$UDEV_DIR/99-edgebind.rules"
run install -D -m 0644 /dev/stdin "$MODULES_DIR/edgebind.conf" <<<"i2c-dev"
if command -v modprobe >/dev/null; then run modprobe -q i2c-dev || true; fi
if command -v udevadm >/dev/null; then
  run udevadm control --reload-rules
  run udevadm trigger --action=change --subsystem-match=i2c-dev --subsystem-match=tty \
    --subsystem-match=video4linux --subsystem-match=sound --subsystem-match=drm
fi

# --- the app -------------------------------------------------------------------------------------
say "app in $APP_DIR"
STAGE="$APP_DIR.new"
run rm -rf "$STAGE"
run install -d -m 0755 "$STAGE"
# models/: the mini pack the example config runs (a working pack out of the box, not `test`).
for item in package.json package-lock.json dist models samples examples systemd deploy docs; do
  if [ -e "$SRC/$item" ]; then run cp -a "$SRC/$item" "$STAGE/"; fi
done
# The root `prepare` script builds with tsc, a dev dependency: not wanted (nor possible) here.
run "$NODE_BIN" -e 'const f=process.argv[1],p=JSON.parse(require("fs").readFileSync(f));delete p.scripts;require("fs").writeFileSync(f,JSON.stringify(p,null,2))' "$STAGE/package.json"
if [ "$COPY_MODULES" -eq 1 ]; then
  [ -d "$SRC/node_modules" ] || die "$SRC/node_modules is missing"
  run cp -a "$SRC/node_modules" "$STAGE/"
else
  # onnxruntime-node's install script would fetch CUDA libraries from NuGet: package.json denies
  # it (npm >= 11.16); the variable does the same for older npm.
  run env ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund --prefix "$STAGE"
fi
if [ -d "$APP_DIR" ]; then
  run rm -rf "$APP_DIR.old"
  run mv "$APP_DIR" "$APP_DIR.old"
fi
run mv "$STAGE" "$APP_DIR"
run chown -R root:root "$APP_DIR"

# --- config and state ----------------------------------------------------------------------------
say "config in $CONF_DIR, state and packs in $STATE_DIR"
run install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF_DIR"
if [ -e "$CONF_DIR/edgebind.yaml" ]; then
  printf '  = %s exists, kept\n' "$CONF_DIR/edgebind.yaml"
else
  run install -m 0640 -o root -g "$SERVICE_USER" "$SRC/deploy/edgebind.example.yaml" "$CONF_DIR/edgebind.yaml"
fi
if [ ! -e "$CONF_DIR/edgebind.env" ]; then
  run install -m 0640 -o root -g "$SERVICE_USER" /dev/stdin "$CONF_DIR/edgebind.env" \
    <<<"# Environment for edgebind.service, e.g. the variable named by mqtt.passwordEnv:
# EDGEBIND_MQTT_PASSWORD=..."
fi
run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR" "$STATE_DIR/packs"

# --- the service ---------------------------------------------------------------------------------
say "systemd unit $UNIT_DIR/edgebind.service (node: $NODE_BIN)"
run install -D -m 0644 /dev/stdin "$UNIT_DIR/edgebind.service" \
  < <(sed -e "s#^ExecStart=/usr/bin/node #ExecStart=$NODE_BIN #" \
    -e "s#/opt/edgebind/#$APP_DIR/#g" "$SRC/systemd/edgebind.service")
if command -v systemctl >/dev/null; then
  run systemctl daemon-reload
  run systemctl enable edgebind.service
  if [ "$START" -eq 1 ]; then run systemctl restart edgebind.service; fi
else
  warn "systemctl not found: enable edgebind.service yourself"
fi
if [ "$DRY_RUN" -eq 0 ] && [ -d "$APP_DIR.old" ]; then rm -rf "$APP_DIR.old"; fi

say "done. Check: sudo -u $SERVICE_USER $NODE_BIN $APP_DIR/dist/cli/index.js doctor --config $CONF_DIR/edgebind.yaml"
say "logs: journalctl -u edgebind -f    metrics (with metrics.enabled): curl -s http://127.0.0.1:9464/metrics"
