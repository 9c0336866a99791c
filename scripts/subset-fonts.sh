#!/usr/bin/env bash
# Regenerate the bundled CJK fonts in fonts/ from Debian's fonts-noto-cjk.
#
#   scripts/subset-fonts.sh                 # all four fonts get the full set
#   scripts/subset-fonts.sh --serif-common  # Serif gets only GB 2312 + the
#                                           # 8105 chars of 通用规范汉字表
#
# Needs:
#   * fonts-noto-cjk   (Debian; the four .ttc files below)
#   * unicode-data     (Debian; Unihan kTGH field = the 通用规范汉字表 list)
#   * fontTools        (pip install fonttools; any 4.x)
#
# What it does, for each of the four .ttc collections: picks the Simplified
# Chinese face (found by its family name, not by a fixed index), subsets it to
# the character set described in fonts/README.md, drops hinting, vertical
# metrics and every OpenType layout feature except 'kern', and writes
# fonts/Noto{Sans,Serif}SC-{Regular,Bold}.otf. Family names, weights and the
# other name-table strings (copyright, licence, trademark) are kept as they
# are. The output is byte-for-byte reproducible for the same inputs (the
# head.modified timestamp is kept from the source font), so re-running it is
# harmless. Finally it checks every output with fontTools and prints a table.
#
# Environment overrides: PYTHON (default python3), NOTO_CJK_DIR (default
# /usr/share/fonts/opentype/noto), UNIHAN_OTHERMAPPINGS (path to
# Unihan_OtherMappings.txt or .txt.bz2), JOBS (parallel subsetting jobs,
# default: number of CPUs).
set -euo pipefail

die() { printf 'subset-fonts: error: %s\n' "$*" >&2; exit 1; }

serif_set=full
for arg in "$@"; do
  case "$arg" in
    --serif-common) serif_set=common ;;
    --serif-full) serif_set=full ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) die "unknown argument: $arg (try --help)" ;;
  esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
out_dir="$repo/fonts"
PYTHON=${PYTHON:-python3}
src_dir=${NOTO_CJK_DIR:-/usr/share/fonts/opentype/noto}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# --- preconditions -----------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found (set PYTHON=...)"
"$PYTHON" - <<'EOF' 2>/dev/null || die "fontTools is not importable by $PYTHON: run 'pip install fonttools' (or apt-get install python3-fonttools)"
import fontTools.subset, fontTools.ttLib
EOF

for f in NotoSansCJK-Regular.ttc NotoSansCJK-Bold.ttc NotoSerifCJK-Regular.ttc NotoSerifCJK-Bold.ttc; do
  [[ -r "$src_dir/$f" ]] || die "source font $src_dir/$f is missing: apt-get install fonts-noto-cjk (or set NOTO_CJK_DIR)"
done

unihan=${UNIHAN_OTHERMAPPINGS:-}
if [[ -z "$unihan" ]]; then
  for cand in /usr/share/unicode/Unihan_OtherMappings.txt /usr/share/unicode/Unihan_OtherMappings.txt.bz2; do
    [[ -r "$cand" ]] && { unihan=$cand; break; }
  done
fi
[[ -n "$unihan" && -r "$unihan" ]] || die "Unihan_OtherMappings.txt(.bz2) not found: apt-get install unicode-data (or set UNIHAN_OTHERMAPPINGS)"

mkdir -p "$out_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/subset-fonts.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- character sets ----------------------------------------------------------
# Writes $work/full.txt and $work/common.txt (one U+XXXX per line).
"$PYTHON" - "$unihan" "$work" <<'EOF'
import bz2, sys

unihan, work = sys.argv[1], sys.argv[2]
opener = bz2.open if unihan.endswith(".bz2") else open
tgh = set()  # 通用规范汉字表 (2013), 8105 characters, from Unihan kTGH
with opener(unihan, "rt", encoding="utf-8") as fh:
    for line in fh:
        if line.startswith("U+") and "\tkTGH\t" in line:
            tgh.add(int(line.split("\t", 1)[0][2:], 16))
if len(tgh) != 8105:
    sys.exit(f"subset-fonts: error: expected 8105 kTGH entries in {unihan}, got {len(tgh)}")

gb2312 = set()
for hi in range(0xA1, 0xF8):
    for lo in range(0xA1, 0xFF):
        try:
            gb2312.add(ord(bytes((hi, lo)).decode("gb2312")))
        except UnicodeDecodeError:
            pass

def rng(a, b):
    return set(range(a, b + 1))

common = set()
common |= rng(0x0020, 0x007E) | rng(0x00A0, 0x00FF)      # Basic Latin, Latin-1
# Hanyu Pinyin letters outside Latin-1 (ā ē ě ī ǐ ō ǒ ū ǔ ǖ ǘ ǚ ǜ ń ň ǹ ḿ ɑ ɡ)
common |= {0x0101, 0x0113, 0x011B, 0x012B, 0x014D, 0x016B, 0x01CE, 0x01D0,
           0x01D2, 0x01D4, 0x01D6, 0x01D8, 0x01DA, 0x01DC, 0x0144, 0x0148,
           0x01F9, 0x1E3F, 0x0251, 0x0261}
common |= {0x02C7, 0x02C9, 0x02CA, 0x02CB, 0x02D9}         # tone marks ˇ ˉ ˊ ˋ ˙
common |= rng(0x0391, 0x03A9) | rng(0x03B1, 0x03C9)       # basic Greek
common |= rng(0x2000, 0x206F)                             # General Punctuation
common |= rng(0x20A0, 0x20CF)                             # Currency Symbols (€)
common |= rng(0x2100, 0x214F)                             # Letterlike Symbols
common |= rng(0x2150, 0x218F)                             # Number Forms
common |= rng(0x2190, 0x21FF)                             # Arrows
common |= rng(0x2200, 0x22FF)                             # Mathematical Operators
common |= rng(0x2460, 0x24FF)                             # Enclosed Alphanumerics
common |= rng(0x25A0, 0x25FF) | {0x2605, 0x2606}          # Geometric Shapes, ★ ☆
common |= {0x2E3A, 0x2E3B}                                # two- and three-em dash ⸺ ⸻
common |= rng(0x3000, 0x303F)                             # CJK Symbols and Punctuation
common |= rng(0x3220, 0x3229) | rng(0x3280, 0x3289)       # ㈠…㈩ ㊀…㊉
common |= rng(0xFF00, 0xFFEF)                             # Halfwidth and Fullwidth Forms
symbols = set(common)

common |= {c for c in gb2312 if 0x3400 <= c <= 0x9FFF}    # GB 2312 hanzi (6763)
common |= tgh                                             # 通用规范汉字表 (8105, incl. 196 outside the BMP)

full = symbols | rng(0x3400, 0x4DBF) | rng(0x4E00, 0x9FFF) | tgh

for name, s in (("full", full), ("common", common)):
    with open(f"{work}/{name}.txt", "w") as fh:
        fh.write("".join(f"U+{c:04X}\n" for c in sorted(s)))
EOF

# --- find the SC face in each collection -------------------------------------
face_index() {  # $1 = .ttc path, $2 = expected family name
  "$PYTHON" - "$1" "$2" <<'EOF'
import sys
from fontTools.ttLib import TTCollection
path, family = sys.argv[1], sys.argv[2]
hits = [i for i, f in enumerate(TTCollection(path, lazy=True).fonts)
        if f["name"].getDebugName(1) == family]
if len(hits) != 1:
    sys.exit(f"subset-fonts: error: {path}: found {len(hits)} faces named {family!r}")
print(hits[0])
EOF
}

# --- subset -------------------------------------------------------------------
# name  source-ttc  family  charset
specs=(
  "NotoSansSC-Regular  NotoSansCJK-Regular.ttc   Noto_Sans_CJK_SC   full"
  "NotoSansSC-Bold     NotoSansCJK-Bold.ttc      Noto_Sans_CJK_SC   full"
  "NotoSerifSC-Regular NotoSerifCJK-Regular.ttc  Noto_Serif_CJK_SC  $serif_set"
  "NotoSerifSC-Bold    NotoSerifCJK-Bold.ttc     Noto_Serif_CJK_SC  $serif_set"
)

subset_one() {  # $1 name, $2 ttc, $3 family (underscores for spaces), $4 charset
  local name=$1 ttc="$src_dir/$2" family=${3//_/ } set=$4 idx
  idx=$(face_index "$ttc" "$family") || return 1
  echo "subset-fonts: $name <- $2 #$idx ($family), charset '$set'"
  "$PYTHON" -m fontTools.subset "$ttc" \
    --font-number="$idx" \
    --unicodes-file="$work/$set.txt" \
    --output-file="$work/$name.otf" \
    --no-hinting \
    --layout-features=kern \
    --drop-tables+=vhea,vmtx,VORG \
    --no-glyph-names \
    --name-IDs='*' --name-languages='*' --name-legacy \
    --no-recalc-timestamp
}

start=$SECONDS
names=()
for spec in "${specs[@]}"; do
  read -r name ttc family set <<<"$spec"
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || true; done
  (
    if subset_one "$name" "$ttc" "$family" "$set" >"$work/$name.log" 2>&1; then
      echo 0 >"$work/$name.rc"
    else
      echo $? >"$work/$name.rc"
    fi
  ) &
  names+=("$name")
done
wait
failed=0
for name in "${names[@]}"; do
  if [[ "$(cat "$work/$name.rc" 2>/dev/null)" != 0 ]]; then
    echo "subset-fonts: subsetting $name failed:" >&2
    cat "$work/$name.log" >&2
    failed=1
  else
    cat "$work/$name.log"
  fi
done
(( failed == 0 )) || die "subsetting failed; fonts/ left unchanged"

# --- verify, then install ------------------------------------------------------
"$PYTHON" - "$work" "$serif_set" <<'EOF'
import os, sys
from fontTools.ttLib import TTFont

work, serif_set = sys.argv[1], sys.argv[2]
expect = {
    "NotoSansSC-Regular":  ("Noto Sans CJK SC", 400),
    "NotoSansSC-Bold":     ("Noto Sans CJK SC", 700),
    "NotoSerifSC-Regular": ("Noto Serif CJK SC", 400),
    "NotoSerifSC-Bold":    ("Noto Serif CJK SC", 700),
}
must = ("喆堃镕䶮王标准，。、《》“”—…0123456789"
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
errors = []
print(f"\n{'file':<25}{'bytes':>11}{'cmap':>8}{'U+4E00-9FFF':>13}{'U+3400-4DBF':>13}{'non-BMP':>9}")
for name, (family, weight) in expect.items():
    path = f"{work}/{name}.otf"
    f = TTFont(path)
    cmap = f.getBestCmap()
    uro = sum(0x4E00 <= c <= 0x9FFF for c in cmap)
    exta = sum(0x3400 <= c <= 0x4DBF for c in cmap)
    astral = sum(c > 0xFFFF for c in cmap)
    print(f"{name + '.otf':<25}{os.path.getsize(path):>11}{len(cmap):>8}{uro:>13}{exta:>13}{astral:>9}")
    if f["name"].getDebugName(1) != family:
        errors.append(f"{name}: family is {f['name'].getDebugName(1)!r}, expected {family!r}")
    if f["OS/2"].usWeightClass != weight:
        errors.append(f"{name}: usWeightClass {f['OS/2'].usWeightClass}, expected {weight}")
    missing = [ch for ch in must if ord(ch) not in cmap]
    if missing:
        errors.append(f"{name}: missing {''.join(missing)}")

sans = TTFont(f"{work}/NotoSansSC-Regular.otf").getBestCmap()
gaps = [c for c in range(0x4E00, 0xA000) if c not in sans]
print(f"\nU+4E00-9FFF not in NotoSansSC-Regular: {len(gaps)}"
      + (f"; first: {' '.join(f'U+{c:04X}' for c in gaps[:20])}" if gaps else ""))
if errors:
    sys.exit("subset-fonts: error: verification failed:\n  " + "\n  ".join(errors))
EOF

for name in "${names[@]}"; do
  mv -f "$work/$name.otf" "$out_dir/$name.otf"
done
echo "subset-fonts: wrote ${names[*]/%/.otf} to fonts/ (serif charset: $serif_set) in $((SECONDS - start)) s"
