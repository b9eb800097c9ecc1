#!/usr/bin/env bash
# Checks the exporter on a real NVIDIA GPU: trains a small GPT (scripts/gpu_check_train.py) for
# GPU_CHECK_SECONDS (default 120) while `python3 -m exporter serve` follows its log through NVML, and
# scripts/gpu_check.py scrapes /metrics every 0.5 s and prints one PASS/FAIL line per check.
# Exit 0: every check passed; 1: one failed; 2: no GPU, PyTorch or NVML here.
# Files (train.log, exporter.log, metrics.txt, series.csv) go to $OUT/gpu_check, else a temporary directory.
# GPU_CHECK_FAKE_NVML=1 runs the same without a GPU: a trainer that only prints, tests/fake_nvml.py as NVML.
# Also: GPU_CHECK_SAMPLE_SECONDS (the exporter's NVML sampling interval, 0.5), PYTHON (python3).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
python=${PYTHON:-python3}
seconds=${GPU_CHECK_SECONDS:-120}
sample=${GPU_CHECK_SAMPLE_SECONDS:-0.5}
fake=${GPU_CHECK_FAKE_NVML:-0}
if [[ $fake != 1 ]]; then
  "$python" scripts/gpu_check.py preflight || exit 2
fi
if [[ -n "${OUT:-}" ]]; then out=$OUT/gpu_check; else out=$(mktemp -d); fi
mkdir -p "$out"

pids=()
cleanup() {
  ((${#pids[@]})) || return 0
  kill "${pids[@]}" 2>/dev/null
  local tenth
  for tenth in {1..50}; do kill -0 "${pids[@]}" 2>/dev/null || break; sleep 0.1; done
  kill -9 "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A stand-in pynvml: one busy H200 holding the trainer's process, its energy counter running at 400 W.
write_fake_nvml() {
  mkdir -p "$out/fake-nvml"
  cat >"$out/fake-nvml/pynvml.py" <<EOF
import os, sys, time
sys.path.insert(0, "$repo/tests")
from fake_nvml import GIB, FakeGpu, FakeNvml

class _Running(FakeNvml):
    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        start = super().nvmlDeviceGetTotalEnergyConsumption(handle)
        return int(start + handle.power_mw * (time.monotonic() - _T0))

_T0 = time.monotonic()
_GPU = FakeGpu(uuid="GPU-00000000-1111-2222-3333-444455556666", name="NVIDIA H200", power_mw=400_000,
               power_limit_mw=700_000, memory_total=141 * GIB,
               processes=[(int(os.environ["GPU_CHECK_TRAINER_PID"]), 2 * GIB)])
sys.modules[__name__] = _Running([_GPU])
EOF
}

train_flags=(--seconds "$seconds")
pythonpath=$repo
if [[ $fake == 1 ]]; then
  train_flags+=(--fake)
  write_fake_nvml
  pythonpath=$out/fake-nvml:$repo
fi

echo "gpu_check: training for ${seconds} s; files in $out"
"$python" -u scripts/gpu_check_train.py "${train_flags[@]}" >"$out/train.log" 2>&1 &
trainer=$!
pids+=("$trainer")

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
GPU_CHECK_TRAINER_PID=$trainer PYTHONPATH=$pythonpath${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 \
  "$python" -m exporter serve --log "$out/train.log" --run gpu-check --port "$port" \
  --gpu-sample-interval-seconds "$sample" --trainer-pid "$trainer" >"$out/exporter.log" 2>&1 &
pids+=("$!")

"$python" scripts/gpu_check.py watch --url "http://127.0.0.1:$port/metrics" --trainer-pid "$trainer" \
  --seconds "$seconds" --out "$out" &
pids+=("$!")
wait "$!"  # in the background, so that a signal reaches the traps at once
status=$?

if [[ -e /proc/$trainer ]] && ! grep -q ') Z' "/proc/$trainer/stat"; then
  echo "FAIL trainer: still running ${seconds} s + start-up allowance after it started (see $out/train.log)"
  status=1
else
  wait "$trainer"
  trainer_status=$?
  if [[ $trainer_status == 0 ]]; then
    echo "PASS trainer: exited 0"
  else
    echo "FAIL trainer: exited $trainer_status (the end of $out/train.log below)"
    tail -n 5 "$out/train.log"
    status=1
  fi
fi
if [[ $status != 0 ]]; then
  echo "--- last lines of $out/exporter.log"
  tail -n 10 "$out/exporter.log"
  echo "gpu_check: FAILED; files in $out"
  exit 1
fi
echo "gpu_check: all checks passed; files in $out"
