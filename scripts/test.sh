#!/usr/bin/env bash
# Runs Riposte's whole test suite on a fresh machine: installs what the tests need
# (idempotently), starts a private PostgreSQL on loopback, then runs every test —
# unit, integration on SQLite and Postgres, and the corpus tier over ../shared/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/riposte/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
PG_PORT="${RIPOSTE_TEST_PG_PORT:-54329}"
PG_DIR="${RIPOSTE_TEST_PG_DIR:-/tmp/riposte-pg-$(id -u)}"

need_apt=()
command -v pg_ctlcluster >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
# The disk tests build images with the real tools from known trees.
for tool_pkg in mkfs.ext4:e2fsprogs debugfs:e2fsprogs mkfs.xfs:xfsprogs mkfs.vfat:dosfstools \
  mcopy:mtools mkntfs:ntfs-3g ntfscp:ntfs-3g sfdisk:fdisk qemu-img:qemu-utils ewfacquire:ewf-tools \
  utmpdump:util-linux ssh-keygen:openssh-client journalctl:systemd \
  reglookup:reglookup hivexsh:libhivex-bin sccainfo:libscca-utils; do
  tool="${tool_pkg%%:*}"; pkg="${tool_pkg##*:}"
  if ! command -v "$tool" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$tool" ] && ! [ -x "/sbin/$tool" ]; then
    [[ " ${need_apt[*]} " == *" $pkg "* ]] || need_apt+=("$pkg")
  fi
done
# The journald parser's tests write real journals with systemd-journal-remote.
[ -x /usr/lib/systemd/systemd-journal-remote ] || [ -x /lib/systemd/systemd-journal-remote ] || need_apt+=(systemd-journal-remote)
# SSH acquisition tests run a real OpenSSH server on loopback; the live-state commands
# need procps (`ps`) and iproute2 (`ss`) on the host they read (this one).
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ps >/dev/null 2>&1 || need_apt+=(procps)
command -v ss >/dev/null 2>&1 || need_apt+=(iproute2)
# The web console's tests drive headless Chromium over WebDriver.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
export PATH="$PATH:/usr/sbin:/sbin"
if ((${#need_apt[@]})); then
  echo "installing: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}" >/dev/null
fi

# The AWS tests run the real SDK against moto's emulator; each test starts its own
# moto_server on a free loopback port and stops it when done. The EBS direct tests run moto
# through `python3` (with crates/fakes/src/moto/ebs_direct.py), so python3 must import it.
export PATH="$PATH:$HOME/.local/bin"
if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c "import moto.server" >/dev/null 2>&1; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3-pip >/dev/null
  fi
  echo "installing: moto[server] (pip)"
  python3 -m pip install -q 'moto[server]' 2>/dev/null \
    || python3 -m pip install -q --user 'moto[server]' 2>/dev/null \
    || python3 -m pip install -q --user --break-system-packages 'moto[server]'
  command -v moto_server >/dev/null 2>&1 || { echo "moto_server not found after installing moto[server]"; exit 1; }
fi
# The registry tests check the parser's decoding against regipy's plugins.
if ! python3 -c "import regipy" >/dev/null 2>&1; then
  echo "installing: regipy (pip)"
  python3 -m pip install -q regipy 2>/dev/null \
    || python3 -m pip install -q --user regipy 2>/dev/null \
    || python3 -m pip install -q --user --break-system-packages regipy
fi

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}
if ! "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; then
  mkdir -p "$PG_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    as_pg "'$PG_BIN/initdb' -D '$PG_DIR/data' -A trust -U postgres >/dev/null"
  fi
  as_pg "'$PG_BIN/pg_ctl' -D '$PG_DIR/data' -l '$PG_DIR/log' -o \"-p $PG_PORT -k '$PG_DIR' -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off\" -w start >/dev/null"
fi
export RIPOSTE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
export RIPOSTE_CORPUS="${RIPOSTE_CORPUS:-$(cd .. && pwd)/shared/corpus}"
[ -d "$RIPOSTE_CORPUS" ] || { echo "corpus not found at $RIPOSTE_CORPUS (expected ../shared/corpus beside the clone)"; exit 1; }

cargo build --workspace --all-targets --locked
cargo test --workspace --locked -- --test-threads="${RIPOSTE_TEST_THREADS:-4}"
# The fuzz targets (their own workspace, run by scripts/fuzz.sh) must keep compiling.
cargo check --manifest-path fuzz/Cargo.toml --bins --locked

# The scale-out soak at a small size: serve and three workers on one Postgres and one S3
# bucket, with workers SIGKILLed, Postgres restarted and S3 down mid-run.
RIPOSTE_SOAK_KILL_EVERY=3 RIPOSTE_SOAK_S3_DOWN=8 RIPOSTE_SOAK_STAGE_DELAY_MS=300 \
  RIPOSTE_SOAK_TIMEOUT=600 ./scripts/soak.sh 30
