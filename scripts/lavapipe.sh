#!/usr/bin/env bash
# Puts Mesa 25's software Vulkan driver (lavapipe) from Debian bookworm-backports into
# .cache/lavapipe, for the WebGPU tests (issue #15). Nothing is installed system-wide: the .debs of
# mesa-vulkan-drivers and the libdrm it needs are fetched with a private apt configuration (its own
# sources list, package lists and cache under .cache/lavapipe/apt) and unpacked with dpkg-deb -x.
# Bookworm's own Mesa 22.3 lavapipe is refused by Dawn ("shaderUniform*ArrayDynamicIndexing
# required"), hence backports.
#
# A process selects it with
#   VK_ICD_FILENAMES=.cache/lavapipe/lvp_icd.json LD_LIBRARY_PATH=.cache/lavapipe/lib
# (the ICD file names the driver by absolute path; LD_LIBRARY_PATH supplies the newer libdrm).
# Its other libraries (libLLVM-15, xcb, wayland-client) and the Vulkan loader come from bookworm
# itself; scripts/test.sh installs them.
#
# Usage: scripts/lavapipe.sh [DIR]   (default .cache/lavapipe; a second run with the same
# version does nothing). Prints the ICD file's path.
set -euo pipefail
cd "$(dirname "$0")/.."

dir="$(realpath -m "${1:-.cache/lavapipe}")"
suite=bookworm-backports
mirror=http://deb.debian.org/debian
packages=(mesa-vulkan-drivers libdrm2)
icd="$dir/lvp_icd.json"
lib="$dir/root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"

apt_dir="$dir/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$dir/debs"
echo "deb $mirror $suite main" >"$apt_dir/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/no-parts"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "APT::Sandbox::User=root"
  -qq
)

want_version() { apt-cache "${apt_opts[@]}" show "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -1; }

if [ -f "$dir/version" ] && [ -f "$lib/libvulkan_lvp.so" ] && grep -qF "\"$lib/libvulkan_lvp.so\"" "$icd" 2>/dev/null; then
  echo "$icd"
  exit 0
fi

apt-get "${apt_opts[@]}" update
version="$(want_version mesa-vulkan-drivers)"
case "$version" in
  2[5-9].*) ;;
  *)
    echo "lavapipe.sh: $suite has mesa-vulkan-drivers '$version', need 25 or later" >&2
    exit 1
    ;;
esac

rm -rf "$dir/root" "$dir/debs"/*.deb
(cd "$dir/debs" && apt-get "${apt_opts[@]}" download "${packages[@]}")
for deb in "$dir/debs"/*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
[ -f "$lib/libvulkan_lvp.so" ] || {
  echo "lavapipe.sh: no libvulkan_lvp.so in $lib" >&2
  exit 1
}
api="$(sed -n 's/.*"api_version": *"\([^"]*\)".*/\1/p' "$dir/root/usr/share/vulkan/icd.d/lvp_icd.json")"
printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "%s", "api_version": "%s" } }\n' \
  "$lib/libvulkan_lvp.so" "${api:-1.3.0}" >"$icd"
rm -rf "$dir/lib"
ln -s "$lib" "$dir/lib"
echo "$version" >"$dir/version"
echo "lavapipe.sh: Mesa $version lavapipe in $dir" >&2
echo "$icd"
