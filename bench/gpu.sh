#!/usr/bin/env bash
# The real-GPU measurement of issue #15, ready to run on an x86-64 machine with an NVIDIA GPU and
# its driver (Debian/Ubuntu, Node 20, this repository with `npm ci` done):
#
#   bench/gpu.sh                 # writes bench/results/<date>.json/.md and bench/results/gpu-<date>.txt
#   GPU_BENCH_PROVIDERS=webgpu,cuda,tensorrt bench/gpu.sh    # also CUDA/TensorRT if installed
#
# 1. checks the NVIDIA driver (nvidia-smi), the Vulkan loader and NVIDIA's Vulkan ICD (installs
#    libvulkan1 with apt when missing and allowed);
# 2. runs `edgebind doctor` (providers, vulkan) and `edgebind embed --providers webgpu,cpu` on
#    models/mini, which must say `runs on webgpu`;
# 3. runs `npm run bench -- --only providers --reference`: every encoder of the tiny, mini and
#    ImageBind-huge-size random-weight packs on webgpu (and the other providers that load) against
#    cpu on this machine: ms per batch, windows per second, speed-up over cpu, first-run
#    (shader compilation) time and output cosine against cpu.
# Copy the GPU's name and the figures into bench/README.md ("Providers").
set -euo pipefail
cd "$(dirname "$0")/.."

providers="${GPU_BENCH_PROVIDERS:-webgpu,cuda,tensorrt}"
stamp="$(date -u +%Y-%m-%d-%H-%M-%S)"
log="bench/results/gpu-$stamp.txt"
mkdir -p bench/results
exec > >(tee "$log") 2>&1

[ "$(uname -m)" = x86_64 ] || {
  echo "gpu.sh: $(uname -m): onnxruntime-node has a WebGPU provider on x86-64 only (deploy/gpu.md, Jetson route)"
  exit 1
}
command -v nvidia-smi >/dev/null || {
  echo "gpu.sh: nvidia-smi not found: install the NVIDIA driver first"
  exit 1
}
echo "== GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  echo "== installing the Vulkan loader (libvulkan1)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libvulkan1
fi
icd=""
for f in /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json; do
  [ -f "$f" ] && icd="$f" && break
done
if [ -z "$icd" ]; then
  echo "gpu.sh: no NVIDIA Vulkan ICD (nvidia_icd.json): install the driver's Vulkan part" \
    "(e.g. libnvidia-gl-<version> on Ubuntu, nvidia-vulkan-icd on Debian)"
  exit 1
fi
echo "== Vulkan ICD: $icd"
# Only NVIDIA's driver, so a Mesa driver cannot be picked instead.
export VK_ICD_FILENAMES="$icd"
unset LD_LIBRARY_PATH

cli=(node --import tsx src/cli/index.ts)
echo "== edgebind doctor"
"${cli[@]}" doctor || true
echo "== embed models/mini imu on webgpu"
"${cli[@]}" embed --pack models/mini -m imu --providers webgpu,cpu --log-level info samples/room-imu.ebf \
  >/dev/null 2>"bench/results/gpu-$stamp-embed.log" || true
grep -h 'runs on\|warmed up' "bench/results/gpu-$stamp-embed.log" || true
grep -q 'runs on webgpu' "bench/results/gpu-$stamp-embed.log" || {
  echo "gpu.sh: the imu encoder did not run on webgpu; see bench/results/gpu-$stamp-embed.log"
  exit 1
}

echo "== bench: providers (reference-size pack, ~2.3 GB generated on first use)"
npm run -s bench -- --only providers --reference --providers "$providers" >/dev/null
echo "== done: $log and the newest bench/results/*.md"
