#!/usr/bin/env bash
# Builds small seed images for the disk fuzz targets (disk_volumes, fs_ext, fs_xfs, fs_ntfs,
# fs_fat) into fuzz/corpus/<target>/ (gitignored: never commit the images).
#
# Needs e2fsprogs (mkfs.ext2/ext4, e2fsck, debugfs), xfsprogs (mkfs.xfs), dosfstools
# (mkfs.fat), mtools (mcopy, mmd, mdel), ntfs-3g (mkntfs, ntfscp) and util-linux (sfdisk);
# no root. Filesystems that cannot be made that small (XFS needs 300 MB, FAT16/32 and NTFS
# a few MB) are cut to their first MiB: libFuzzer cuts longer inputs to -max_len (1 MiB by
# default) anyway, and the readers must cope with a truncated volume.
#
#   fuzz/seeds/make_disk_seeds.sh [corpus-dir]     (default: fuzz/corpus)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$here/corpus}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MTOOLS_SKIP_CHECK=1
cd "$work"

for t in disk_volumes fs_ext fs_xfs fs_ntfs fs_fat; do mkdir -p "$corpus/$t"; done
# seed <target> <name> <image> [bytes]: the image (or its first <bytes>) as a seed.
seed() {
    head -c "${4:-1048576}" "$3" >"$corpus/$1/seed-$2"
}

# A small tree: text files, an empty file, a multi-block file, a long name, a directory
# of 120 entries (more than one block: htree / block-form directories), nested
# directories, and short (inline) and long (block) symbolic links.
mkdir -p tree/dir/nested/deeper tree/many
printf 'hello riposte\n' >tree/hello.txt
: >tree/empty
head -c 40000 /dev/urandom >tree/dir/blob.bin
printf 'a longer file name\n' >"tree/A Long File Name With Spaces.txt"
printf 'deep\n' >tree/dir/nested/deeper/deep.txt
printf 'to be deleted\n' >tree/dir/deleted.txt
for i in $(seq 1 120); do printf '%s\n' "$i" >"tree/many/entry-$i"; done
ln -s hello.txt tree/short-link
ln -s "$(printf 'x%.0s' $(seq 1 300))/target" tree/long-link

# --- ext2/3/4 -------------------------------------------------------------------------
ext() { # name mkfs size args...
    local name=$1 mkfs=$2 size=$3
    shift 3
    "$mkfs" -q -F "$@" -d tree "$name.img" "$size" >/dev/null
    e2fsck -fyD "$name.img" >/dev/null 2>&1 || true
    # An unlinked inode for deleted(): its data and inode stay, its entry goes.
    debugfs -w -R "rm /dir/deleted.txt" "$name.img" >/dev/null 2>&1
    seed fs_ext "$name" "$name.img"
}
ext ext4-1k mkfs.ext4 1M -b 1024 -I 256 -N 256 -O ^has_journal,extent,dir_index
ext ext4-4k mkfs.ext4 1M -b 4096 -I 256 -N 256 -O ^has_journal,extent,dir_index,flex_bg
ext ext4-inline mkfs.ext4 1M -b 1024 -I 256 -N 256 -O ^has_journal,extent,inline_data
ext ext2-1k mkfs.ext2 1M -b 1024 -I 128 -N 256
ext ext3-1k mkfs.ext3 4M -b 1024 -I 128 -N 256 -J size=1

# --- XFS ------------------------------------------------------------------------------
# A prototype file (mkfs.xfs -p). New directories alternate between the two AGs, so the
# odd ones (d2, many, …) stay in AG 0, within the first MiB kept as the seed.
{
    printf 'riposte\n0 0\nd--755 0 0\n'
    printf 'hello.txt ---644 0 0 %s\n' "$work/tree/hello.txt"
    printf 'empty ---644 0 0 %s\n' "$work/tree/empty"
    printf 'blob.bin ---644 0 0 %s\n' "$work/tree/dir/blob.bin"
    printf 'short-link l--777 0 0 hello.txt\n'
    printf 'long-link l--777 0 0 %s\n' "$(readlink tree/long-link)"
    printf 'd1 d--755 0 0\nx ---644 0 0 %s\n$\n' "$work/tree/hello.txt"
    printf 'd2 d--755 0 0\ndeep.txt ---644 0 0 %s\n' "$work/tree/dir/nested/deeper/deep.txt"
    printf 'blob.bin ---644 0 0 %s\n$\n' "$work/tree/dir/blob.bin"
    printf 'd3 d--755 0 0\n$\n'
    printf 'many d--755 0 0\n'
    for i in $(seq 1 120); do printf 'entry-%s ---644 0 0 %s\n' "$i" "$work/tree/hello.txt"; done
    printf '$\n'
    for i in $(seq 1 40); do printf 'root-entry-%s ---644 0 0 %s\n' "$i" "$work/tree/hello.txt"; done
    printf '$\n'
} >proto
xfs() { # name args...
    local name=$1
    shift
    rm -f "$name.img"
    truncate -s 320M "$name.img"
    mkfs.xfs -q -f "$@" -d agcount=2 -p proto "$name.img" >/dev/null 2>&1
    seed fs_xfs "$name" "$name.img"
}
xfs xfs-v5-1k -b size=1024
xfs xfs-v5-4k -b size=4096
xfs xfs-v5-4k-ftype0 -b size=4096 -m crc=0 -n ftype=0
xfs xfs-v4-512i -b size=4096 -m crc=0 -i size=512

# --- FAT12/16/32 ----------------------------------------------------------------------
fat() { # name size-KiB mkfs-args...
    local name=$1 size=$2
    shift 2
    rm -f "$name.img"
    mkfs.fat -C "$@" "$name.img" "$size" >/dev/null
    mcopy -s -i "$name.img" tree/hello.txt tree/empty "tree/A Long File Name With Spaces.txt" tree/dir tree/many ::/
    mdel -i "$name.img" ::/dir/deleted.txt
    seed fs_fat "$name" "$name.img"
}
fat fat12 512 -F 12
fat fat16 2400 -F 16 -s 1
fat fat32 34000 -F 32 -s 1

# --- NTFS -----------------------------------------------------------------------------
rm -f ntfs.img
truncate -s 2M ntfs.img
mkntfs -q -F -f ntfs.img >/dev/null 2>&1
ntfscp -q ntfs.img tree/hello.txt hello.txt
ntfscp -q ntfs.img tree/dir/blob.bin blob.bin
ntfscp -q ntfs.img tree/empty empty
ntfscp -q ntfs.img "tree/A Long File Name With Spaces.txt" "A Long File Name With Spaces.txt"
printf '[ZoneTransfer]\r\nZoneId=3\r\n' >zone
ntfscp -q -N Zone.Identifier ntfs.img zone hello.txt
seed fs_ntfs ntfs ntfs.img

# --- Partitioned disks ----------------------------------------------------------------
# 1 MiB disks (512-byte sectors) with a FAT12 volume in the first partition and, on the
# MBR disk, an ext2 volume in the first logical partition.
mkfs.fat -C part-fat.img 256 >/dev/null
mcopy -i part-fat.img tree/hello.txt ::/
mkfs.ext2 -q -F -b 1024 -N 16 part-ext.img 150K >/dev/null
disk() { # name sfdisk-script [sector image]...
    local name=$1 script=$2
    shift 2
    rm -f "$name.img"
    truncate -s 1M "$name.img"
    printf '%s\n' "$script" | sfdisk -q --no-reread --no-tell-kernel "$name.img" >/dev/null
    while [ $# -gt 0 ]; do
        dd if="$2" of="$name.img" bs=512 seek="$1" conv=notrunc status=none
        shift 2
    done
    seed disk_volumes "$name" "$name.img"
}
disk mbr 'label: dos
start=63, size=520, type=1
start=600, size=1400, type=5
start=663, size=300, type=83
start=1000, size=400, type=7' 63 part-fat.img 663 part-ext.img
disk gpt 'label: gpt
first-lba: 34
start=40, size=520, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="data"
start=600, size=200, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4' 40 part-fat.img
seed disk_volumes bare-fat part-fat.img
seed disk_volumes bare-ext "$corpus/fs_ext/seed-ext2-1k"

ls -l "$corpus"/{disk_volumes,fs_ext,fs_xfs,fs_ntfs,fs_fat}
