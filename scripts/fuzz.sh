#!/usr/bin/env bash
# Fuzzing campaign: runs every fuzz target (or the ones named) for MINUTES each on every
# core (libFuzzer's fork mode), keeping each target's corpus in fuzz/corpus/<target>
# (gitignored; the disk targets are seeded with small real images first), and prints per
# target: executions, coverage (edges `cov`, features `ft`), corpus size, and the crashes,
# timeouts and out-of-memory inputs found (saved in fuzz/artifacts/<target>/ — add each
# one as a regression test once fixed).
#
#   scripts/fuzz.sh [MINUTES=10] [TARGET…]
#   env: RIPOSTE_FUZZ_JOBS (default: the number of cores),
#        RIPOSTE_FUZZ_SANITIZER (default none: the code is safe Rust, and without
#        AddressSanitizer each core runs several times more inputs; `address` for unsafe code)
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${1:-10}"; shift || true
JOBS="${RIPOSTE_FUZZ_JOBS:-$(nproc)}"
SANITIZER="${RIPOSTE_FUZZ_SANITIZER:-none}"
export CARGO_TARGET_DIR="${RIPOSTE_FUZZ_TARGET_DIR:-$HOME/.cache/riposte/fuzz-target}"
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

if (($#)); then TARGETS=("$@"); else
  mapfile -t TARGETS < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^riposte-fuzz$')
fi
if [ ! -d fuzz/corpus/fs_ext ] || [ -z "$(ls -A fuzz/corpus/fs_ext 2>/dev/null)" ]; then
  fuzz/seeds/make_disk_seeds.sh >/dev/null
fi

cd fuzz
cargo +nightly fuzz build --sanitizer "$SANITIZER" -O >&2
summary=()
for target in "${TARGETS[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  log="artifacts/$target/campaign.log"
  before=$(find "artifacts/$target" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  echo "== $target: ${MINUTES} min on $JOBS core(s)" >&2
  cargo +nightly fuzz run --sanitizer "$SANITIZER" -O "$target" "corpus/$target" -- \
    -fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time=$((MINUTES * 60)) -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
    -artifact_prefix="artifacts/$target/" >"$log" 2>&1 || true
  # Fork mode's last status line: `#EXECS: cov: N ft: N corp: N exec/s: N oom/timeout/crash: a/b/c …`
  last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
  after=$(find "artifacts/$target" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  summary+=("$(printf '%-18s %s  new findings: %d (fuzz/artifacts/%s)' "$target" "${last:-no status line: see $log}" $((after - before)) "$target")")
done
echo
echo "== campaign: ${MINUTES} min per target, $JOBS job(s), sanitizer $SANITIZER"
printf '%s\n' "${summary[@]}"
