#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one command for a lent GPU machine:
#   1. install what its image lacks (skorch, imbalanced-learn, and the scikit-learn the
#      package is tested with) from wheels carried in .whl/ (see benchmarks/README.md);
#   2. run the whole test suite there, where the CUDA tests run instead of being skipped;
#   3. run benchmarks/bench_gpu.py and write its section of docs/performance.md.
# Logs, the JSON of the timings and the rewritten page land in $OUT (./gpu_checks_out when
# OUT is unset). `bash benchmarks/gpu_checks.sh --smoke` runs the same steps on a CPU in a
# minute (the GPU-free test file, bench_gpu.py --device cpu --quick, no page written).
set -o pipefail
OUT=${OUT:-gpu_checks_out}
mkdir -p "$OUT"
smoke=false
[ "$1" = "--smoke" ] && smoke=true

if ! $smoke && compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

python3 - <<'PY' 2>&1 | tee "$OUT/environment.txt"
import platform, torch, sklearn, skorch, imblearn, sklearn_elm
print("python", platform.python_version(), "| torch", torch.__version__, "| scikit-learn",
      sklearn.__version__, "| skorch", skorch.__version__, "| imbalanced-learn",
      imblearn.__version__, "| sklearn-elm", sklearn_elm.__version__)
print("CUDA:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
PY

if $smoke; then
    tests=(tests/test_bench_gpu.py) bench=(--device cpu --quick)
else
    tests=(tests -n 8) bench=(--write-docs)
fi
timeout "${TEST_TIMEOUT:-300}" python3 -m pytest -q -p no:cacheprovider -rs "${tests[@]}" \
    2>&1 | tee "$OUT/tests.log" | tail -30
echo "tests: exit status $?"
timeout "${BENCH_TIMEOUT:-300}" python3 benchmarks/bench_gpu.py "${bench[@]}" \
    --out "$OUT/bench_gpu.json" 2>&1 | tee "$OUT/bench_gpu.log" | tail -60
echo "bench_gpu.py: exit status $?"
$smoke || cp docs/performance.md "$OUT/performance.md"
