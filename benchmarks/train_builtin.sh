#!/usr/bin/env bash
# Train the weights Diffusion Studio ships: the digits U-Net, the emoji U-Net and the digits classifier,
# all three at once on one CUDA GPU (about 6 minutes each on an H100; the exact commands and step counts we ship).
#
#   DATA=/path/to/datasets OUT_DIR=/path/to/out benchmarks/train_builtin.sh
#
# DATA holds mnist28.npz and emoji_rgb32.npz (see shared/datasets/README.md). Writes $OUT_DIR/digits (model,
# classifier, NOTICE.txt, samples.png) and $OUT_DIR/emoji, plus one log per job in $OUT_DIR. Copy into
# resources/models/<name>/ only model.*, classifier.*, NOTICE.txt (and samples.png if wanted), never
# checkpoints/. Optional: PYTHON (default python3), RESUME=1 to continue interrupted runs, SCALE=0.1 to scale
# every step count (a quick trial), DEVICE=cpu to try the script without a GPU.
#
# Sizing (measured on one H200 with all three jobs running, torch 2.11, bf16): each U-Net job runs ~26 steps/s
# whatever the batch (launch-bound), ~7,000 img/s at batch 256; the classifier ~100 steps/s. So 7,000 U-Net
# steps take ~5 min there (the emoji job is the slowest), a little more on an H100. lr 4e-4 beat 2e-4 at equal
# steps (loss 0.0244 vs 0.0253 digits, 0.0359 vs 0.0422 emoji after 2,400 steps).
set -euo pipefail

: "${DATA:?set DATA to the folder holding mnist28.npz and emoji_rgb32.npz}"
: "${OUT_DIR:?set OUT_DIR to the folder to write digits/ and emoji/ into}"
PY=${PYTHON:-python3}
SCALE=${SCALE:-1}
cd "$(dirname "$0")/.."
mkdir -p "$OUT_DIR"

steps() { "$PY" -c 'import sys; print(max(1, round(int(sys.argv[1]) * float(sys.argv[2]))))' "$1" "$SCALE"; }
common=(--device "${DEVICE:-cuda}" --seed 0 --log-every 500 --checkpoint-every 2000 --sample-every 5000)
[[ "${RESUME:-0}" == 1 ]] && common+=(--resume)

job() {  # job NAME ARGS...: run one training command, its progress prefixed with [NAME] and kept in a log
  local name=$1
  shift
  "$PY" -u -m diffusion_studio.training.command "$@" "${common[@]}" 2>&1 \
    | tee "$OUT_DIR/$name.log" | sed -u "s/^/[$name] /"
  return "${PIPESTATUS[0]}"
}

"$PY" -c 'import torch; print("GPU:", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")'
start=$SECONDS

job digits --data "$DATA/mnist28.npz" --out "$OUT_DIR/digits" --name digits --classes \
  --steps "$(steps 7000)" --batch 256 --lr 4e-4 &
p1=$!
job emoji --data "$DATA/emoji_rgb32.npz" --out "$OUT_DIR/emoji" --name emoji --classes --flip \
  --steps "$(steps 7000)" --batch 256 --lr 4e-4 &
p2=$!
job digits-classifier --data "$DATA/mnist28.npz" --out "$OUT_DIR/digits" --name digits --classifier \
  --steps "$(steps 8000)" --batch 256 --lr 3e-4 &
p3=$!

status=0
for p in $p1 $p2 $p3; do
  wait "$p" || status=1
done
echo "All jobs finished in $((SECONDS - start)) s (exit status $status)."
ls -l "$OUT_DIR/digits" "$OUT_DIR/emoji" || true
exit $status
