#!/usr/bin/env bash
# End-to-end tests of the autoenc tool, one case per CTest test:
#   cli_tests.sh AUTOENC HELPER SOURCE_DIR WORK_DIR CASE
# Each case makes its small data with cli_test_helper in its own folder and checks exit
# statuses, messages, outputs (read back by the tool, libpng and numpy) and that failed
# commands leave their output files untouched.
set -u
AUTOENC=$1 HELPER=$2 SRC=$3 WORK=$4 CASE=$5
W="$WORK/$CASE"
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
FASHION=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}

fail() { echo "FAIL [$CASE]: $*" >&2; exit 1; }
# run EXPECTED_STATUS CMD...: runs, keeps stderr in err.txt, checks the status.
run() {
    local expected=$1; shift
    "$@" >out.txt 2>err.txt
    local status=$?
    [ "$status" -eq "$expected" ] || { cat err.txt >&2; fail "'$*' exited $status, expected $expected"; }
}
contains() { grep -q -- "$2" "$1" || { cat "$1" >&2; fail "$1 lacks '$2'"; }; }
# rss_below KIB LIMIT WHAT: peak resident memory bounds hold only without a sanitizer
rss_below() {
    if [ -n "${AUTOENC_TEST_SANITIZER:-}" ]; then
        echo "($AUTOENC_TEST_SANITIZER sanitizer build: memory bound $3 not checked)"
        return 0
    fi
    [ "$1" -lt "$2" ] || fail "peak RSS $1 KiB: $3"
}
shape_is() { # shape_is FILE ROWS COLS: via autoenc info
    "$AUTOENC" info "$1" >info.txt 2>&1 || { cat info.txt >&2; fail "info $1"; }
    contains info.txt "rows: *$2\$"; contains info.txt "columns: *$3\$"
}
small_model() { # a model on 300 rows of 64 values (8x8 images), saved as m.aemodel
    "$HELPER" npy data.npy 300 64 f4 || fail "helper"
    run 0 "$AUTOENC" train data.npy -o m.aemodel --widths 64,16,4 --epochs 2 --loss bce -q "$@"
}
# untouched OUT: OUT holds "keep" and no temporary file is left beside it
keep_output() { printf keep >"$1"; }
untouched() {
    [ "$(cat "$1")" = keep ] || fail "$1 was changed"
    ls -a | grep -q "^\.$1\." && fail "a temporary file of $1 was left"
    return 0
}

numpy_python() { /usr/bin/python3 -c 'import numpy' 2>/dev/null && echo /usr/bin/python3; }

case $CASE in
train_and_info)
    small_model --validation 0.2 --history hist.csv --json
    contains out.txt '"samples_per_second"'
    contains hist.csv '^stage,epoch,train_loss,val_loss,seconds$'
    [ "$(wc -l <hist.csv)" -eq 3 ] || fail "history has $(wc -l <hist.csv) lines"
    run 0 "$AUTOENC" info m.aemodel
    contains out.txt 'format: *libautoenc model file 1\.'
    contains out.txt 'widths: *64 -> 16 -> 4 -> 16 -> 64'
    contains out.txt 'loss *bce'
    ;;
info_golden)
    "$HELPER" npy data.npy 100 12 f4
    run 0 "$AUTOENC" train data.npy -o golden.aemodel --widths 12,6,3 --decoder 3,12 --epochs 1 \
        --seed 7 --activation tanh --loss bce --set batch_size=32 --scaling min-max -q
    run 0 "$AUTOENC" threshold golden.aemodel --value 0.25 -q
    "$AUTOENC" info golden.aemodel >info.txt
    # Everything up to the settings is golden; the settings are the library's own list
    # (it grows), so each is checked to appear once, with the values chosen above.
    sed '/^settings:$/q' info.txt >head.txt
    diff -u "$SRC/info.golden" head.txt || fail "info differs from info.golden"
    run 0 "$AUTOENC" train --help
    names=$(sed -n '/^Settings/,$ s/^  \([a-z_0-9]*\).*/\1/p' out.txt)
    [ -n "$names" ] || fail "no settings in train --help"
    for name in $names; do
        [ "$(grep -c "^  $name  *[^ ]" info.txt)" -eq 1 ] || fail "setting $name not shown once by info"
    done
    [ "$(sed '1,/^settings:$/d' info.txt | wc -l)" -eq "$(echo "$names" | wc -l)" ] || fail "info shows other settings"
    for pair in "seed 7" "hidden_activation tanh" "output_activation sigmoid" "loss bce" \
                "batch_size 32" "scaling minmax" "epochs 1"; do
        grep -q "^  ${pair% *}  *${pair#* }\$" info.txt || fail "info lacks $pair"
    done
    ;;
all_variants_train)
    "$HELPER" npy data.npy 200 16 f4
    for variant in "--tied" "--variational --kl-warmup 1" "--pretrain" "--noise masking --noise-level 0.3" \
                   "--sparsity 0.1 --latent-activation sigmoid" "--contractive 0.01" "--dropout 0.2 --dropout-input 0.1" \
                   "--l1 0.001" "--scaling standardize --lr 3e-3" "--optimizer sgd --momentum 0.9 --set nesterov=yes"; do
        # shellcheck disable=SC2086
        run 0 "$AUTOENC" train data.npy -o v.aemodel --widths 16,8,4 --epochs 2 -q $variant
        run 0 "$AUTOENC" eval v.aemodel data.npy
        contains out.txt '^mse '
    done
    run 0 "$AUTOENC" info v.aemodel
    contains out.txt 'optimizer *sgd'; contains out.txt 'nesterov *1'
    ;;
encode_decode_reconstruct)
    small_model
    run 0 "$AUTOENC" encode m.aemodel data.npy -o codes.npy
    shape_is codes.npy 300 4
    run 0 "$AUTOENC" encode m.aemodel data.npy -o codes.csv --chunk 7
    [ "$(wc -l <codes.csv)" -eq 300 ] || fail "codes.csv rows"
    run 0 "$AUTOENC" decode m.aemodel codes.npy -o dec.npy
    shape_is dec.npy 300 64
    run 0 "$AUTOENC" reconstruct m.aemodel data.npy -o rec.tsv
    [ "$(head -1 rec.tsv | tr '\t' '\n' | wc -l)" -eq 64 ] || fail "rec.tsv columns"
    run 0 "$AUTOENC" reconstruct m.aemodel data.npy --format csv  # to stdout
    [ "$(wc -l <out.txt)" -eq 300 ] || fail "stdout rows"
    # decode(encode(x)) equals reconstruct(x)
    run 0 "$AUTOENC" reconstruct m.aemodel data.npy -o rec.csv
    run 0 "$AUTOENC" decode m.aemodel codes.npy -o dec.csv
    cmp -s rec.csv dec.csv || fail "decode(encode) differs from reconstruct"
    ;;
score_detect_threshold)
    small_model --contamination 0.1
    run 0 "$AUTOENC" score m.aemodel data.npy -o scores.csv
    [ "$(wc -l <scores.csv)" -eq 300 ] || fail "scores rows"
    run 0 "$AUTOENC" detect m.aemodel data.npy -o labels.csv
    contains err.txt 'of 300 rows anomalous'
    n=$(grep -c '^1$' labels.csv); [ "$n" -ge 20 ] && [ "$n" -le 40 ] || fail "$n anomalies of 300 at 10%"
    run 0 "$AUTOENC" detect m.aemodel data.npy -o both.csv --scores --threshold 0
    [ "$(cut -d, -f1 both.csv | sort -u)" = 1 ] || fail "threshold 0 flags every row"
    run 0 "$AUTOENC" threshold m.aemodel data.npy --contamination 0.5 -o half.aemodel
    run 0 "$AUTOENC" detect half.aemodel data.npy -o half.csv
    n=$(grep -c '^1$' half.csv); [ "$n" -ge 140 ] && [ "$n" -le 160 ] || fail "$n anomalies at 50%"
    "$HELPER" npy plain.npy 50 64 f4
    run 0 "$AUTOENC" train plain.npy -o nothr.aemodel --widths 64,4 --epochs 1 -q
    keep_output nl.npy
    run 81 "$AUTOENC" detect nothr.aemodel plain.npy -o nl.npy
    contains err.txt 'no anomaly threshold'; untouched nl.npy
    ;;
sample_interpolate)
    "$HELPER" npy data.npy 200 16 f4
    run 0 "$AUTOENC" train data.npy -o vae.aemodel --widths 16,8,2 --variational --epochs 2 --loss bce -q
    run 0 "$AUTOENC" sample vae.aemodel -n 9 -o s.npy --seed 3
    shape_is s.npy 9 16
    run 0 "$AUTOENC" sample vae.aemodel -n 9 -o s2.npy --seed 3
    cmp -s s.npy s2.npy || fail "the same seed gave other samples"
    run 0 "$AUTOENC" interpolate vae.aemodel data.npy --from 3 --to 5 -n 6 -o i.csv
    [ "$(wc -l <i.csv)" -eq 6 ] || fail "interpolate rows"
    run 0 "$AUTOENC" encode vae.aemodel data.npy --distribution -o dist.npy
    shape_is dist.npy 200 4
    run 0 "$AUTOENC" train data.npy -o plain.aemodel --widths 16,2 --epochs 1 -q
    run 81 "$AUTOENC" sample plain.aemodel -n 2 -o x.npy
    contains err.txt 'variational'
    run 64 "$AUTOENC" interpolate vae.aemodel data.npy --from 0 --to 999 -o x.npy
    ;;
png_pictures)
    "$HELPER" csv data.csv 40 16
    run 0 "$AUTOENC" train data.csv -o m.aemodel --widths 16,8,3 --epochs 2 --loss bce --variational -q
    run 0 "$AUTOENC" reconstruct m.aemodel data.csv -o rec.csv --png rec.png --count 4 --scale 3
    { head -4 data.csv; head -4 rec.csv; } >cells.csv
    run 0 "$HELPER" pngcheck rec.png 4 4 3 2 4 cells.csv
    run 0 "$AUTOENC" sample m.aemodel -n 4 -o s.csv --png s.png --scale 2 --image 4x4
    run 0 "$HELPER" pngcheck s.png 4 4 2 2 2 s.csv
    run 0 "$AUTOENC" interpolate m.aemodel data.csv -n 5 -o i.csv --png i.png --scale 1 --image 2x8
    run 0 "$HELPER" pngcheck i.png 2 8 1 1 5 i.csv
    run 0 "$AUTOENC" score m.aemodel data.csv -o sc.csv --png sc.png --count 3
    sort -g sc.csv | tail -3 | sort -gr >want.txt
    # the first line of the picture holds the most anomalous rows: rebuild its cells
    : >cells.csv
    for s in $(cat want.txt); do line=$(grep -n -x -- "$s" sc.csv | head -1 | cut -d: -f1); sed -n "${line}p" data.csv >>cells.csv; done
    for s in $(sort -g sc.csv | head -3); do line=$(grep -n -x -- "$s" sc.csv | head -1 | cut -d: -f1); sed -n "${line}p" data.csv >>cells.csv; done
    run 0 "$HELPER" pngcheck sc.png 4 4 2 2 3 cells.csv
    run 64 "$AUTOENC" reconstruct m.aemodel data.csv -o r.npy --png r.png --image 5x5
    ;;
data_formats)
    small_model
    for dtype in f8 i4 u1 ">f4"; do
        "$HELPER" npy "d.npy" 20 64 "$dtype"
        run 0 "$AUTOENC" encode m.aemodel d.npy -o c.npy
        shape_is c.npy 20 4
    done
    "$HELPER" npy f.npy 20 64 f4 fortran
    run 0 "$AUTOENC" encode m.aemodel f.npy -o cf.csv
    "$HELPER" idx img.idx 30 8 8
    "$HELPER" idx img.gz 30 8 8
    run 0 "$AUTOENC" encode m.aemodel img.idx -o a.csv
    run 0 "$AUTOENC" encode m.aemodel img.gz -o b.csv
    cmp -s a.csv b.csv || fail "IDX plain and gzip differ"
    run 0 "$AUTOENC" info img.gz
    contains out.txt 'image: *8x8'; contains out.txt 'values: *0 to 0.99'
    # CSV: header, delimiter, columns
    "$HELPER" csv h.csv 10 66 header
    run 0 "$AUTOENC" encode m.aemodel h.csv --columns 2-65 -o hc.csv
    shape_is hc.csv 10 4
    run 0 "$AUTOENC" info h.csv --columns c1,c3,5-6
    contains out.txt 'columns: *4$'
    run 64 "$AUTOENC" info h.csv --columns c1,nope
    contains err.txt "no column named 'nope'"
    run 65 "$AUTOENC" encode m.aemodel h.csv -o x.csv
    contains err.txt 'rows of 66 values, but the model m.aemodel takes rows of 64'
    "$HELPER" csv t.tsv 10 64 header "	"
    run 0 "$AUTOENC" encode m.aemodel t.tsv -o t.npy
    "$HELPER" csv s.txt 10 64 noheader ";"
    run 0 "$AUTOENC" encode m.aemodel s.txt -o s.npy --no-header --delimiter ';'
    run 65 "$AUTOENC" encode m.aemodel t.tsv -o t.npy --no-header
    contains err.txt 'line 1, column 1'
    ;;
class_selection)
    "$HELPER" idx train-images-idx3-ubyte.gz 90 4 4
    "$HELPER" labels train-labels-idx1-ubyte.gz 90
    run 0 "$AUTOENC" train train-images-idx3-ubyte.gz --class 2 -o m.aemodel --widths 16,4 --epochs 1 --json -q
    contains out.txt '"rows": 30,'
    run 0 "$AUTOENC" info train-images-idx3-ubyte.gz --class 1
    contains out.txt 'rows: *30$'
    "$HELPER" labels other.idx 90
    cp train-images-idx3-ubyte.gz pics.gz
    run 64 "$AUTOENC" info pics.gz --class 1
    contains err.txt 'give them with --labels'
    run 0 "$AUTOENC" info pics.gz --class 0 --labels other.idx --rows 7
    contains out.txt 'rows: *7$'
    "$HELPER" labels short.idx 80
    run 65 "$AUTOENC" info pics.gz --class 0 --labels short.idx
    contains err.txt '80 labels for the 90 rows'
    ;;
settings)
    "$HELPER" npy data.npy 50 8 f4
    run 0 "$AUTOENC" train --help
    for name in learning_rate batch_size scaling_min_scale kl_warmup_epochs divergence_factor; do
        contains out.txt "^  $name"
    done
    contains out.txt 'learning_rate (--lr) *(0, 1000\]; default 0.001'
    contains out.txt 'loss (--loss) *one of mse, bce; default mse'
    # consistent settings in any order; BCE given before the output activation
    run 0 "$AUTOENC" train data.npy -o m.aemodel --widths 8,2 --epochs 1 -q --set loss=bce \
        --set output_activation=sigmoid --scaling min-max --noise-level 0.5 --noise masking --set LEARNING-RATE=3e-3
    run 0 "$AUTOENC" info m.aemodel
    contains out.txt 'learning_rate *0.003'; contains out.txt 'noise *masking'
    contains out.txt 'scaling *minmax'
    # a genuine conflict: reported with the library's reason
    run 64 "$AUTOENC" train data.npy -o m2.aemodel --widths 8,2 --output-activation sigmoid --scaling standardize
    contains err.txt 'conflicts with output_activation = sigmoid'
    [ ! -e m2.aemodel ] || fail "a model was saved after a usage error"
    run 64 "$AUTOENC" train data.npy -o m2.aemodel --widths 8,2 --set nonsense=1
    run 64 "$AUTOENC" train data.npy -o m2.aemodel --widths 8,2 --lr 0
    contains err.txt 'outside (0, 1000\]'
    run 64 "$AUTOENC" train data.npy -o m2.aemodel --widths 8,2 --loss hinge
    contains err.txt "'hinge' is not one of mse, bce"
    run 65 "$AUTOENC" train data.npy -o m2.aemodel --widths 9,2
    contains err.txt 'input width of 9'
    run 64 "$AUTOENC" train data.npy -o m2.aemodel --widths 8,x
    run 64 "$AUTOENC" train data.npy -o m2.aemodel --bogus
    run 64 "$AUTOENC" frobnicate
    run 0 "$AUTOENC" train data.npy -o m.aemodel --resume m.aemodel --epochs 1 -q --save-optimizer
    run 0 "$AUTOENC" info m.aemodel
    contains out.txt 'optimizer: *state saved after'
    ;;
bad_inputs)
    small_model
    keep_output out.npy
    check_bad() { # check_bad STATUS PATTERN FILE [extra args]
        local status=$1 pattern=$2 file=$3; shift 3
        run "$status" "$AUTOENC" encode m.aemodel "$file" -o out.npy "$@"
        [ "$(wc -l <err.txt)" -eq 1 ] || { cat err.txt >&2; fail "$file: not one line"; }
        contains err.txt "$file"; contains err.txt "$pattern"; untouched out.npy
    }
    : >empty.csv;                                    check_bad 65 'empty' empty.csv
    "$HELPER" npy whole.npy 10 64 f4; head -c 1000 whole.npy >trunc.npy
    check_bad 65 'truncated NPY file.*byte offset' trunc.npy
    head -c 60 whole.npy >trunchead.npy;             check_bad 65 'truncated NPY header' trunchead.npy
    "$HELPER" idx whole.idx 10 8 8; head -c 300 whole.idx >trunc.idx
    check_bad 65 'truncated IDX data: byte offset 300' trunc.idx
    "$HELPER" idx whole.gz 10 8 8; head -c 100 whole.gz >trunc.gz
    check_bad 65 'decompressed byte offset' trunc.gz
    printf '\x89PNG\r\n\x1a\nxxxxxxxx' >magic.bin;     check_bad 65 'byte offset 0: not a data file' magic.bin
    printf '\x93NUMPY\x09\x00\x10\x00' >version.npy; check_bad 65 'format version 9' version.npy
    "$HELPER" npy wide.npy 5 65 f4;                  check_bad 65 'rows of 65 values, but the model m.aemodel takes rows of 64' wide.npy
    printf '1,2\n3,abc\n' >text.csv;                 check_bad 65 "line 2, column 2: 'abc', expected a number" text.csv
    printf '1,2\n3,\n' >missing.csv;                 check_bad 65 'line 2, column 2: missing value' missing.csv
    printf '1,2\n3\n' >short.csv;                    check_bad 65 'line 2: 1 fields, expected 2' short.csv
    printf '1,2\nnan,4\n' >nan.csv;                  check_bad 65 "line 2, column 1: 'nan', expected a finite number" nan.csv
    printf '#c\n1,2\n3,1e999\n' >inf.csv;            check_bad 65 'line 3, column 2' inf.csv
    "$HELPER" npy nanf.npy 3 64 f4
    printf '\x00\x00\xc0\x7f' | dd of=nanf.npy bs=1 seek=$((128 + 4 * 70)) conv=notrunc status=none
    check_bad 65 'byte offset 408 (row 2, column 7): NaN' nanf.npy
    mkdir adir;                                      check_bad 66 'is a directory' adir
    check_bad 66 'No such file' nothere.npy
    # a model that does not load
    printf 'not a model' >bad.aemodel
    run 80 "$AUTOENC" encode bad.aemodel whole.npy -o out.npy; contains err.txt bad.aemodel; untouched out.npy
    head -c 200 m.aemodel >trunc.aemodel
    run 80 "$AUTOENC" encode trunc.aemodel whole.npy -o out.npy; contains err.txt trunc.aemodel; untouched out.npy
    run 66 "$AUTOENC" encode nomodel.aemodel whole.npy -o out.npy; untouched out.npy
    run 66 "$AUTOENC" info adir
    # BCE targets outside [0, 1]: the value's place is named
    printf '%s\n' "$(seq -s, 1 64)" >big.csv
    run 65 "$AUTOENC" score m.aemodel big.csv -o out.npy
    contains err.txt 'big.csv: line 1, column 2: 2, expected a value in \[0, 1\]'; untouched out.npy
    # outputs that cannot be written: nothing is left behind
    run 73 "$AUTOENC" encode m.aemodel whole.npy -o adir
    run 73 "$AUTOENC" encode m.aemodel whole.npy -o nofolder/x.npy
    run 64 "$AUTOENC" encode m.aemodel whole.npy -o x.npy --format xls
    ;;
report_converted)
    # A refused value in a file converted on the fly (not float32 C-order) is named with its
    # place and value, by every command that checks rows; the converted row it was found in
    # is gone by the time the message is printed.
    small_model
    "$HELPER" npy u.npy 3 64 u1
    printf '\007' | dd of=u.npy bs=1 seek=128 conv=notrunc status=none
    "$HELPER" npy n.npy 3 64 f8
    printf '\000\000\000\000\000\000\370\177' | dd of=n.npy bs=1 seek=128 conv=notrunc status=none
    range='u.npy: byte offset 128 (row 1, column 1): 7, expected a value in \[0, 1\]'
    nan='n.npy: byte offset 128 (row 1, column 1): NaN, expected a finite number'
    keep_output out.npy
    for cmd in encode reconstruct score "detect --threshold 1"; do
        run 65 "$AUTOENC" $cmd m.aemodel n.npy -o out.npy; contains err.txt "$nan"; untouched out.npy
    done
    for cmd in score "detect --threshold 1"; do # the loss needs [0, 1]
        run 65 "$AUTOENC" $cmd m.aemodel u.npy -o out.npy; contains err.txt "$range"; untouched out.npy
    done
    run 65 "$AUTOENC" eval m.aemodel u.npy; contains err.txt "$range"
    run 65 "$AUTOENC" eval m.aemodel n.npy; contains err.txt "$nan"
    run 65 "$AUTOENC" train n.npy --stream --widths 64,4 --epochs 1 -o out.npy -q
    contains err.txt "$nan"; untouched out.npy
    ;;
csv_header)
    # The first row is a header only when it holds no number: a byte order mark, numbers of
    # any length or a row mixing numbers and text never make a data row vanish.
    long=0.1$(printf '%070d' 1)
    printf '\357\273\2770.1,0.2\n0.3,0.4\n0.5,0.6\n' >bom.csv
    run 0 "$AUTOENC" info bom.csv; contains out.txt 'rows: *3$'
    printf '\357\273\277a,b\n0.3,0.4\n' >bomhead.csv
    run 0 "$AUTOENC" info bomhead.csv --columns b; contains out.txt 'rows: *1$'
    printf '%s,0.2\n0.3,%s\n' "$long" "$long" >long.csv
    run 0 "$AUTOENC" info long.csv; contains out.txt 'rows: *2$'; contains out.txt 'values: *0.100000001 to 0.300000012,'
    printf 'x,0.2\n0.3,0.4\n' >mixed.csv
    run 65 "$AUTOENC" info mixed.csv
    contains err.txt "mixed.csv: line 1: the first row mixes numbers and text (column 1: 'x')"
    run 0 "$AUTOENC" info mixed.csv --header; contains out.txt 'rows: *1$'
    printf ',a,b\n1,0.3,0.4\n' >unnamed.csv # an unnamed index column
    run 0 "$AUTOENC" info unnamed.csv; contains out.txt 'rows: *1$'
    ;;
csv_memory)
    # Room for CSV rows follows the rows read: a wide first line followed by many blank,
    # comment or short lines asks for no more than the file holds (it asked for lines x
    # the first line's width: 80 GB here).
    wide=$(printf '0.5,%.0s' $(seq 99999))0.5
    { echo "$wide"; yes '' | head -200000; } >blank.csv
    { echo "$wide"; yes '# note' | head -200000; } >comment.csv
    { echo "$wide"; yes 1 | head -200000; } >short.csv
    for f in blank comment; do
        rss=$("$HELPER" maxrss "$AUTOENC" info $f.csv | tail -1)
        rss_below "$rss" 65536 "$f.csv: the rows were sized by lines"
        run 0 "$AUTOENC" info $f.csv; contains out.txt 'rows: *1$'
    done
    run 65 "$AUTOENC" info short.csv; contains err.txt 'short.csv: line 2: 1 fields, expected 100000'
    ;;
outputs_all_or_none)
    # A command that fails changes no output: every output is made before the work (a
    # picture's size checked too) and all are renamed into place only once all are written.
    small_model --variational
    "$HELPER" npy big.npy 1000 64 f4
    keep_output out.npy; keep_output pic.png; keep_output h.csv; keep_output m2.aemodel
    run 64 "$AUTOENC" reconstruct m.aemodel big.npy -o out.npy --png pic.png --count 1000 --scale 64
    contains err.txt 'pic.png: a picture of .* is too large .*: lower --scale (.* fits) or --count'
    untouched out.npy; untouched pic.png
    run 73 "$AUTOENC" reconstruct m.aemodel big.npy -o out.npy --png nofolder/pic.png
    untouched out.npy
    run 73 "$AUTOENC" score m.aemodel big.npy -o out.npy --png nofolder/pic.png
    untouched out.npy
    run 73 "$AUTOENC" reconstruct m.aemodel big.npy -o nofolder/out.npy --png pic.png
    untouched pic.png
    run 73 "$AUTOENC" sample m.aemodel -n 4 -o out.npy --png nofolder/pic.png
    untouched out.npy
    run 64 "$AUTOENC" sample m.aemodel -n 100000000 -o out.npy --png pic.png
    contains err.txt 'lower -n'; untouched out.npy; untouched pic.png
    run 73 "$AUTOENC" interpolate m.aemodel big.npy -o nofolder/out.npy --png pic.png
    untouched pic.png
    run 73 "$AUTOENC" train data.npy -o m2.aemodel --widths 64,4 --epochs 1 -q --history nofolder/h.csv
    untouched m2.aemodel
    run 73 "$AUTOENC" train data.npy -o nofolder/m.aemodel --widths 64,4 --epochs 1 -q --history h.csv
    untouched h.csv
    run 73 "$AUTOENC" threshold m.aemodel data.npy --contamination 0.1 -o nofolder/t.aemodel
    # and when all can be written, all are
    run 0 "$AUTOENC" train data.npy -o m2.aemodel --widths 64,4 --epochs 1 -q --history h.csv
    run 0 "$AUTOENC" info m2.aemodel; contains h.csv '^stage,epoch'
    run 0 "$AUTOENC" threshold m2.aemodel data.npy --contamination 0.1
    run 0 "$AUTOENC" info m2.aemodel; contains out.txt 'threshold: *[0-9]'
    ;;
output_aliases)
    # An output never replaces an input nor another output, whatever name it is given;
    # a model updated in place (threshold, train --resume) is the exception by design.
    small_model --contamination 0.1
    cp m.aemodel victim.aemodel; cp data.npy victim.npy; ln -s victim.npy link.npy
    cksum victim.aemodel victim.npy >before.txt
    run 64 "$AUTOENC" encode victim.aemodel victim.npy -o victim.aemodel
    contains err.txt 'the output victim.aemodel would replace the input victim.aemodel'
    run 64 "$AUTOENC" encode victim.aemodel victim.npy -o ./victim.npy
    run 64 "$AUTOENC" encode victim.aemodel victim.npy -o link.npy
    contains err.txt 'the output link.npy would replace the input victim.npy'
    run 64 "$AUTOENC" train victim.npy -o victim.npy --widths 64,4 --epochs 1 -q
    run 64 "$AUTOENC" train data.npy -o t.aemodel --widths 64,4 --epochs 1 -q --validation-data victim.npy \
        --history victim.npy
    run 64 "$AUTOENC" train victim.npy -o t.aemodel --widths 64,4 --epochs 1 -q --checkpoint-every 1 \
        --checkpoint victim.npy
    run 64 "$AUTOENC" threshold victim.aemodel victim.npy --contamination 0.1 -o victim.npy
    run 64 "$AUTOENC" score victim.aemodel victim.npy -o s.npy --png s.npy
    contains err.txt 'the outputs s.npy and s.npy are the same file'
    run 64 "$AUTOENC" score victim.aemodel victim.npy -o s.npy --png ./s.npy
    run 0 "$AUTOENC" train victim.npy --validation-data victim.npy -o t.aemodel --widths 64,4 \
        --epochs 1 -q # an input may be read twice
    cksum victim.aemodel victim.npy | cmp -s - before.txt || fail "an input was changed"
    [ ! -e s.npy ] || fail "s.npy was written"
    run 0 "$AUTOENC" threshold victim.aemodel victim.npy --contamination 0.2
    run 0 "$AUTOENC" train victim.npy --resume victim.aemodel -o victim.aemodel --epochs 1 -q
    ;;
long_names)
    # Outputs of names up to the longest a folder allows: the temporary name is cut to fit.
    small_model
    for len in 247 248 254 255; do
        name=$(printf 'o%.0s' $(seq $((len - 4)))).npy
        run 0 "$AUTOENC" encode m.aemodel data.npy -o "$name"
        shape_is "$name" 300 4
        name=$(printf 'p%.0s' $(seq $((len - 4)))).png
        run 0 "$AUTOENC" reconstruct m.aemodel data.npy -o "${name%png}csv" --png "$name" --count 2
        [ -s "$name" ] || fail "no $name"
    done
    [ -z "$(ls -A | grep '^\.')" ] || fail "temporary files left"
    ;;
gzip_integrity)
    # A gzip file cut anywhere, even just before its 8-byte CRC and size trailer, or with a
    # wrong CRC, is refused naming the file; whole files, also of several members, load.
    "$HELPER" idx whole.gz 300 8 8; "$HELPER" idx small.gz 3 8 8
    size=$(stat -c %s whole.gz)
    head -c $((size - 8)) whole.gz >notrailer.gz
    head -c $((size - 4)) whole.gz >halftrailer.gz
    head -c $((size / 2)) whole.gz >half.gz
    cp whole.gz crc.gz
    printf '\377\377\377\377' | dd of=crc.gz bs=1 seek=$((size - 8)) conv=notrunc status=none
    for f in notrailer halftrailer half; do
        run 65 "$AUTOENC" info $f.gz
        contains err.txt "^autoenc: $f.gz: truncated gzip file: .*before the end of the gzip stream"
    done
    run 65 "$AUTOENC" info crc.gz
    contains err.txt '^autoenc: crc.gz: damaged gzip file: incorrect data check'
    grep -q '<fd:' err.txt && fail "zlib's descriptor name in the message"
    gzip -dc whole.gz >plain.idx && { head -c 1000 plain.idx | gzip; tail -c +1001 plain.idx | gzip; } >multi.gz
    run 0 "$AUTOENC" info multi.gz; contains out.txt 'rows: *300$'
    run 0 "$AUTOENC" info small.gz; contains out.txt 'rows: *3$'
    ;;
validation_blame)
    # A refused value in --validation-data is reported in that file, not the training file.
    "$HELPER" npy train.npy 50 16 f4; "$HELPER" npy val.npy 10 16 f4; "$HELPER" npy val8.npy 10 16 f8
    printf '\000\000\300\177' | dd of=val.npy bs=1 seek=$((128 + 4 * 20)) conv=notrunc status=none
    printf '\000\000\000\000\000\000\360\177' | dd of=val8.npy bs=1 seek=128 conv=notrunc status=none
    for mode in "" --stream; do
        # shellcheck disable=SC2086
        run 65 "$AUTOENC" train train.npy --validation-data val.npy --widths 16,4 --epochs 1 -q $mode
        contains err.txt '^autoenc: val.npy: byte offset 208 (row 2, column 5): NaN'
        # shellcheck disable=SC2086
        run 65 "$AUTOENC" train train.npy --validation-data val8.npy --widths 16,4 --epochs 1 -q $mode
        contains err.txt '^autoenc: val8.npy: byte offset 128 (row 1, column 1): an infinite value'
    done
    ;;
huge_counts)
    # Row counts beyond memory are usage errors before anything is allocated; score's
    # picture takes at most the file's rows, as reconstruct's does.
    small_model --variational
    keep_output out.npy
    run 64 "$AUTOENC" sample m.aemodel -n 100000000000 -o out.npy
    contains err.txt '^autoenc: -n 100000000000: 100000000000 rows of 64 values need .* GB, more than'
    untouched out.npy
    run 64 "$AUTOENC" sample m.aemodel -n 18446744073709551615 -o out.npy
    run 64 "$AUTOENC" sample m.aemodel -n 18446744073709551615 --png pic.png
    contains err.txt 'pic.png: a picture of [0-9]* x [0-9]* pixels is too large'
    run 64 "$AUTOENC" interpolate m.aemodel data.npy --steps 1000000000000 -o out.npy
    contains err.txt '^autoenc: --steps 1000000000000:'; untouched out.npy
    run 0 "$AUTOENC" score m.aemodel data.npy -o s.npy --png s.png --count 1000000000000
    run 0 "$AUTOENC" reconstruct m.aemodel data.npy -o r.npy --png r.png --count 1000000000000
    ;;
signals)
    # Every terminating signal the tool catches removes the temporary outputs and ends with
    # 128 + its number, naming it; SIGTERM stops training at the next batch like Ctrl-C but
    # is not called Ctrl-C. Outputs are written slowly here: to a FIFO's reader that waits.
    "$HELPER" npy data.npy 4000 256 f4
    run 0 "$AUTOENC" train data.npy -o m.aemodel --widths 256,8 --epochs 1 -q
    wait_for() { for _ in $(seq 4800); do grep -q "$2" "$1" && return 0; sleep 0.05; done; fail "no '$2' in $1"; }
    # (a plain "cmd &" starts with SIGINT and SIGQUIT ignored, which the tool respects)
    launch() { exec "$@"; }
    for sig in HUP QUIT TERM INT USR1; do
        # reconstruct to a picture and a CSV: the CSV's temporary exists once rows flow
        launch "$AUTOENC" reconstruct m.aemodel data.npy -o out_$sig.csv --chunk 1 --png p_$sig.png 2>err_$sig.txt &
        pid=$!
        for _ in $(seq 400); do ls -a | grep -q "^\.out_$sig\.csv\." && break; sleep 0.01; done
        kill -$sig $pid; wait $pid; status=$?
        number=$(kill -l $sig); want=$((128 + number))
        [ $status -eq $want ] || { cat err_$sig.txt; fail "SIG$sig: exit $status, expected $want"; }
        contains err_$sig.txt "SIG$sig"
        grep -q 'Ctrl-C' err_$sig.txt && [ $sig != INT ] && fail "SIG$sig reported as Ctrl-C"
        [ -z "$(ls -a | grep "^\.\(out\|p\)_$sig\.")" ] || fail "SIG$sig: temporary files left"
        [ ! -e out_$sig.csv ] && [ ! -e p_$sig.png ] || fail "SIG$sig: an output was written"
    done
    "$HELPER" npy big.npy 12000 1024 f4
    launch "$AUTOENC" train big.npy --widths 1024,512,8 --epochs 100000 --batch 12000 -o t.aemodel 2>err.txt &
    pid=$!
    wait_for err.txt '^epoch 1/'
    kill -TERM $pid; wait $pid; status=$?
    [ $status -eq 143 ] || { cat err.txt; fail "exit $status after SIGTERM"; }
    contains err.txt 'terminated (SIGTERM): stopping at the next batch'
    contains err.txt 'terminated (SIGTERM) after [0-9]* complete epochs: saved the model'
    grep -q 'Ctrl-C' err.txt && fail "SIGTERM reported as Ctrl-C"
    run 0 "$AUTOENC" info t.aemodel
    ;;
threshold_options)
    # threshold says what is wrong with --value and --contamination, not only that one
    # of them is needed.
    small_model
    run 64 "$AUTOENC" threshold m.aemodel --value -5
    contains err.txt '^autoenc: --value -5: expected a threshold of at least 0'
    run 64 "$AUTOENC" threshold m.aemodel data.npy --contamination -0.1
    contains err.txt '^autoenc: --contamination -0.1: expected a share in \[0, 0.5\]'
    run 64 "$AUTOENC" threshold m.aemodel data.npy --contamination 0.7
    contains err.txt 'expected a share in'
    run 64 "$AUTOENC" threshold m.aemodel data.npy --contamination 0.1 --value 2
    contains err.txt 'not both'
    run 64 "$AUTOENC" threshold m.aemodel
    contains err.txt 'give --contamination SHARE (with DATA) or --value THRESHOLD'
    run 0 "$AUTOENC" threshold m.aemodel --value 0 -q
    run 0 "$AUTOENC" threshold m.aemodel data.npy --contamination 0 -q
    ;;
messages)
    # Odd inputs and failed writes to standard output say what is wrong.
    "$HELPER" npy nan.npy 2 4 f4
    printf '\000\000\300\177%.0s' $(seq 8) | dd of=nan.npy bs=1 seek=128 conv=notrunc status=none
    run 0 "$AUTOENC" info nan.npy
    contains out.txt '^values: *none finite$'; grep -q '^values.*\(inf\|nan\)' out.txt && fail "inf or nan shown"
    printf "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }%52s\n" "" >nine.npy
    run 65 "$AUTOENC" info nine.npy; contains err.txt 'NPY array of more than 8 dimensions'
    "$HELPER" npy d.npy 5 4 f4; "$HELPER" labels l.idx 5
    run 64 "$AUTOENC" info d.npy --labels l.idx; contains err.txt '\-\-labels l.idx: .*--class'
    for cmd in --help --version "help --man" "info --help"; do
        # shellcheck disable=SC2086
        "$AUTOENC" $cmd >/dev/full 2>err.txt; status=$?
        [ $status -eq 74 ] || fail "$cmd to /dev/full: exit $status"
        contains err.txt '^autoenc: standard output: write error: No space left on device'
    done
    ;;
numpy_readback)
    py=$(numpy_python)
    if [ -z "$py" ]; then echo "note: numpy is not installed for /usr/bin/python3: NPY read-back skipped"; exit 0; fi
    small_model
    run 0 "$AUTOENC" encode m.aemodel data.npy -o codes.npy
    run 0 "$AUTOENC" encode m.aemodel data.npy -o codes.csv
    run 0 "$AUTOENC" detect m.aemodel data.npy -o labels.npy --threshold 0.5
    run 0 "$AUTOENC" score m.aemodel data.npy -o scores.npy
    "$py" - <<'PY' || fail "numpy read-back"
import numpy as np
c = np.load("codes.npy")
assert c.dtype == np.float32 and c.shape == (300, 4), (c.dtype, c.shape)
assert np.array_equal(c, np.loadtxt("codes.csv", delimiter=",", dtype=np.float32))
l = np.load("labels.npy"); assert l.dtype == np.uint8 and l.shape == (300,)
s = np.load("scores.npy"); assert s.shape == (300,) and (s > 0).all()
assert ((s > 0.5) == (l == 1)).all()
x = np.random.default_rng(1).random((40, 64))
np.save("f64.npy", x); np.save("fortran.npy", np.asfortranarray(x.astype(np.float32)))
np.save("c.npy", x.astype(np.float32))
np.save("v2.npy", x.astype(np.float32)); 
np.lib.format.write_array(open("v3.npy", "wb"), x.astype(np.float32), version=(3, 0))
PY
    for f in f64 fortran v3; do
        run 0 "$AUTOENC" encode m.aemodel $f.npy -o $f.out.csv
    done
    run 0 "$AUTOENC" encode m.aemodel c.npy -o c.out.csv
    cmp -s c.out.csv fortran.out.csv || fail "Fortran order gave other codes"
    cmp -s c.out.csv v3.out.csv || fail "NPY 3.0 gave other codes"
    ;;
progress_pipe)
    "$HELPER" npy data.npy 2000 32 f4
    "$AUTOENC" train data.npy -o m.aemodel --widths 32,8 --epochs 3 --validation 0.1 2>err.txt
    [ "$(grep -c '^epoch [123]/3: loss .*, validation loss .*rows/s' err.txt)" -eq 3 ] || { cat err.txt; fail "plain lines"; }
    grep -q $'\r' err.txt && fail "carriage return in a pipe"
    "$AUTOENC" train data.npy -o m.aemodel --widths 32,8 --epochs 2 -q 2>err.txt
    [ ! -s err.txt ] || fail "--quiet printed something"
    ;;
progress_tty)
    command -v script >/dev/null || { echo "note: script (util-linux) missing: skipped"; exit 0; }
    # The bar is redrawn inside an epoch at most every 0.1 s, so the fit must last well
    # beyond that on a fast machine: about 1.2 s here (a 64-32-8 fit of 20000 rows took
    # 0.1 s once its steps got faster, and some runs then never drew inside an epoch).
    "$HELPER" npy data.npy 10000 512 f4
    script -qfec "'$AUTOENC' train data.npy -o m.aemodel --widths 512,128,8 --epochs 3 --batch 16 --validation 0.1" /dev/null >tty.txt 2>&1 </dev/null
    grep -q $'\r' tty.txt || fail "no carriage return on a terminal"
    grep -q $'\033\[K' tty.txt || fail "no clear-to-end-of-line"
    grep -q 'ETA' tty.txt || fail "no ETA while an epoch runs"
    grep -q 'epoch 3/3 \[=*\] 100%.*rows/s.*loss .*val ' tty.txt || { cat -v tty.txt | tail -3; fail "no final bar"; }
    ;;
sigint)
    # One batch of 12000 rows of 1024 values through 1024-512-8 takes about a second, so
    # that Ctrl-C lands inside a batch.
    "$HELPER" npy data.npy 12000 1024 f4
    wait_for() { for _ in $(seq 4800); do grep -q "$2" "$1" && return 0; sleep 0.05; done; fail "no '$2' in $1"; }
    train() { exec "$AUTOENC" train data.npy --widths 1024,512,8 --epochs 100000 --batch 12000 "$@"; }
    train -o m.aemodel --validation 0.1 2>err.txt &
    pid=$!
    wait_for err.txt '^epoch 1/'
    kill -INT $pid
    wait $pid; status=$?
    [ $status -eq 130 ] || { cat err.txt; fail "exit $status after SIGINT"; }
    contains err.txt 'interrupted (SIGINT) after [0-9]* complete epochs: saved the model'
    run 0 "$AUTOENC" info m.aemodel
    run 0 "$AUTOENC" eval m.aemodel data.npy --rows 100
    # a second Ctrl-C quits at once: no model written, nothing left behind; the
    # checkpoint of a finished epoch loads
    train -o m2.aemodel --checkpoint-every 1 --checkpoint ck.aemodel 2>err2.txt &
    pid=$!
    wait_for err2.txt '^epoch 1/'
    kill -INT $pid
    wait_for err2.txt 'stopping at the next batch'
    kill -INT $pid
    wait $pid; status=$?
    [ $status -eq 130 ] || fail "exit $status after two SIGINTs"
    [ ! -e m2.aemodel ] || { cat err2.txt; fail "a model was written after quitting at once"; }
    run 0 "$AUTOENC" info ck.aemodel
    [ -z "$(ls -a | grep '^\.m2\.')" ] || fail "temporary files left"
    ;;
encode_bounded_memory)
    # 96 MiB of float32 rows, memory-mapped, go through encode in blocks: the peak
    # resident memory stays far below the file's size.
    "$HELPER" npy big.npy 24576 1024 f4
    "$HELPER" npy small.npy 100 1024 f4
    run 0 "$AUTOENC" train small.npy -o m.aemodel --widths 1024,8 --epochs 1 -q
    rss=$("$HELPER" maxrss "$AUTOENC" encode m.aemodel big.npy -o codes.npy --chunk 1024) || fail "encode"
    echo "peak RSS ${rss} KiB for a 96 MiB input"
    rss_below "$rss" 65536 "the input was not streamed"
    shape_is codes.npy 24576 8
    ;;
train_stream)
    # --stream trains through the library's data sources: in file order it is the in-memory
    # fit bit for bit, and the peak resident memory does not grow with the file.
    "$HELPER" npy rows.npy 3000 16 f4
    run 0 "$AUTOENC" train rows.npy -o mem.aemodel --widths 16,8,3 --epochs 2 --set shuffle=0 -q
    run 0 "$AUTOENC" train rows.npy -o stream.aemodel --widths 16,8,3 --epochs 2 --set shuffle=0 --stream -q
    "$AUTOENC" encode mem.aemodel rows.npy -o a.npy -q && "$AUTOENC" encode stream.aemodel rows.npy -o b.npy -q ||
        fail "encode"
    cmp -s a.npy b.npy || fail "--stream in file order does not train as the in-memory fit"
    "$HELPER" npy big.npy 24576 1024 f4
    "$HELPER" npy small.npy 3072 1024 f4
    rss_big=$("$HELPER" maxrss "$AUTOENC" train big.npy -o big.aemodel --widths 1024,8 --epochs 1 --stream --set shuffle_buffer=1000 -q) ||
        fail "train --stream big"
    rss_small=$("$HELPER" maxrss "$AUTOENC" train small.npy -o small.aemodel --widths 1024,8 --epochs 1 --stream --set shuffle_buffer=1000 -q) ||
        fail "train --stream small"
    echo "peak RSS ${rss_small} KiB for a 12 MiB input, ${rss_big} KiB for a 96 MiB input"
    rss_below "$rss_big" $((rss_small + 16384)) "grew with the file: not streamed"
    run 64 "$AUTOENC" train rows.npy --widths 16,8,3 --stream --validation 0.1 -q
    contains err.txt "validation-data"
    ;;
help_and_man)
    run 0 "$AUTOENC" help --man
    cp out.txt man.txt
    cmp -s man.txt "$(dirname "$AUTOENC")/autoenc.1" || fail "the built autoenc.1 is not what 'autoenc help --man' prints"
    run 0 "$AUTOENC" --help
    cp out.txt main.txt
    for cmd in train encode decode reconstruct score detect threshold eval sample interpolate info help; do
        contains main.txt "^  $cmd "
        run 0 "$AUTOENC" help "$cmd"
        cp out.txt help.txt
        # every option in --help is described in the man page, under the command's section
        for opt in $(grep -o -- '--[a-z][a-z-]*' help.txt | sort -u); do
            grep -q -- "${opt//-/\\\\-}" man.txt || fail "$opt of $cmd is not in the man page"
        done
        [ "$cmd" = help ] || { run 0 "$AUTOENC" "$cmd" --help; cmp -s out.txt help.txt || fail "$cmd --help"; }
    done
    run 0 "$AUTOENC" --version
    contains out.txt '^autoenc '
    run 64 "$AUTOENC" help nothing
    if command -v groff >/dev/null; then
        groff -man -Tutf8 -ww man.txt >/dev/null 2>groff.txt; [ ! -s groff.txt ] || { cat groff.txt; fail "groff warnings"; }
    fi
    ;;
blas_note)
    # --version names the BLAS. train's note on OPENBLAS_CORETYPE (OpenBLAS on kernels older
    # than the CPU supports: tools/common/blas_hint.h, whose decision the unit test
    # cli_unit_blas_hint covers case by case) goes to stderr, never with the variable set,
    # never with --quiet; whether it fires without the variable depends on this machine.
    run 0 "$AUTOENC" --version
    contains out.txt '^autoenc '
    contains out.txt '^BLAS: '
    "$HELPER" npy data.npy 100 8 f4 || fail "helper"
    core=$(sed -n 's/^BLAS: OpenBLAS.*, core \([^ ,]*\).*/\1/p' out.txt)
    if [ -n "$core" ]; then
        # set to the core OpenBLAS runs now, a value valid on this machine, even Prescott
        run 0 env OPENBLAS_CORETYPE="$core" "$AUTOENC" --version
        contains out.txt "^BLAS: OpenBLAS.*, core $core (OPENBLAS_CORETYPE)"
        run 0 env OPENBLAS_CORETYPE="$core" "$AUTOENC" train data.npy -o m.aemodel --widths 8,2 --epochs 1
        contains err.txt '^epoch 1/1'
        grep -q OPENBLAS_CORETYPE err.txt && { cat err.txt >&2; fail "a note although OPENBLAS_CORETYPE=$core is set"; }
    else
        echo "note: not OpenBLAS ($(sed -n 's/^BLAS: //p' out.txt)): OPENBLAS_CORETYPE not checked"
    fi
    run 0 env -u OPENBLAS_CORETYPE "$AUTOENC" train data.npy -o m.aemodel --widths 8,2 --epochs 1 --json
    grep -q OPENBLAS out.txt && fail "the note went to standard output"
    if grep -q OPENBLAS_CORETYPE err.txt; then
        [ "$(grep -c OPENBLAS_CORETYPE err.txt)" -eq 1 ] || { cat err.txt >&2; fail "not one note"; }
        contains err.txt '^autoenc: OpenBLAS.* kernels; OPENBLAS_CORETYPE=[A-Za-z]* .*export it'
        echo "this machine gets the note: $(grep OPENBLAS_CORETYPE err.txt)"
    fi
    run 0 env -u OPENBLAS_CORETYPE "$AUTOENC" train data.npy -o m.aemodel --widths 8,2 --epochs 1 -q
    [ ! -s err.txt ] || { cat err.txt >&2; fail "--quiet printed something"; }
    ;;
train_distributed)
    # mpirun -np R autoenc train --distributed: each process reads its own block of the rows,
    # and the job trains as one process on the combined batches (the rows in the order
    # cli_test_helper interleave gives) to 1e-5 relative, for R = 1, 2, 3; errors on one rank
    # reach every rank (the test's timeout catches a hang). AUTOENC_TEST_MPIEXEC is the
    # launcher, or "none" when the tool was built without MPI.
    MPIEXEC=${AUTOENC_TEST_MPIEXEC:-none}
    "$HELPER" npy rows.npy 203 12 f4 || fail "helper"
    if [ "$MPIEXEC" = none ]; then
        run 64 "$AUTOENC" train rows.npy --widths 12,6,3 --distributed -q
        contains err.txt "built without MPI"
        exit 0
    fi
    launch=("$MPIEXEC")
    "$MPIEXEC" --version 2>/dev/null | grep -q "Open MPI\|OpenRTE" &&
        launch+=(--allow-run-as-root --oversubscribe --mca btl self,vader,tcp
                 --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo -x OPENBLAS_NUM_THREADS=1)
    mpi() { local n=$1; shift; "${launch[@]}" -np "$n" "$@"; }
    base=(--widths 12,6,3 --set shuffle=0 --threads 1 -q)
    settings=("${base[@]}" --epochs 3)
    for ranks in 1 2 3; do
        "$HELPER" interleave rows.npy one$ranks.npy $ranks 8 || fail "helper interleave"
        run 0 "$AUTOENC" train one$ranks.npy -o one$ranks.aemodel --batch $((8 * ranks)) "${settings[@]}"
        run 0 mpi $ranks "$AUTOENC" train rows.npy -o dist$ranks.aemodel --batch 8 "${settings[@]}" \
            --distributed --json --history hist$ranks.csv
        [ "$(grep -c '"rows": 203,' out.txt)" -eq 1 ] || { cat out.txt; fail "$ranks processes: one JSON report of 203 rows expected"; }
        [ "$(wc -l <hist$ranks.csv)" -eq 4 ] || fail "$ranks processes: history of $(wc -l <hist$ranks.csv) lines"
        difference=$("$HELPER" weights dist$ranks.aemodel one$ranks.aemodel 1e-5) ||
            fail "$ranks processes: the weights differ from one process on the combined batches by $difference relative"
        echo "$ranks processes against one on the combined batches: $difference relative"
    done
    # NPY files that are converted rather than mapped (float64, big-endian): the same rows,
    # so the same weights bit for bit.
    for dtype in f8 '>f4'; do
        "$HELPER" npy conv.npy 203 12 "$dtype" || fail "helper $dtype"
        run 0 mpi 2 "$AUTOENC" train conv.npy -o conv.aemodel --batch 8 "${settings[@]}" --distributed
        "$HELPER" weights conv.aemodel dist2.aemodel 0 >/dev/null || fail "NPY $dtype: not the weights of float32 rows"
    done
    # IDX, plain and gzip-compressed: each process seeks (or decompresses past) the rows
    # before its own. With one step per epoch (a batch holding every process's block) the
    # order of rows within the step changes nothing but float sums.
    "$HELPER" idx rows.idx 30 4 3 && "$HELPER" idx rows.idx.gz 30 4 3 || fail "helper idx"
    run 0 "$AUTOENC" train rows.idx -o idx_one.aemodel --batch 32 --widths 12,6,3 --epochs 25 --threads 1 -q
    for file in rows.idx rows.idx.gz; do
        run 0 mpi 2 "$AUTOENC" train $file -o idx_dist.aemodel --batch 16 --widths 12,6,3 --epochs 25 \
            --threads 1 --distributed -q
        difference=$("$HELPER" weights idx_dist.aemodel idx_one.aemodel 1e-5) ||
            fail "$file, 2 processes: the weights differ from one process by $difference relative"
    done
    # Validation rows are shared out the same way; --stream and --pretrain are collective too.
    "$HELPER" npy val.npy 5 12 f4
    run 0 mpi 3 "$AUTOENC" train rows.npy -o v.aemodel --validation-data val.npy --stream \
        "${settings[@]}" --distributed --json
    grep -q '"final_val_loss": [0-9]' out.txt || { cat out.txt; fail "no validation loss"; }
    run 0 mpi 2 "$AUTOENC" train rows.npy -o p.aemodel --pretrain "${settings[@]}" --distributed
    # Restart: 2 epochs, then 2 more from the saved model with its optimizer state, end with
    # the weights of 4 epochs in one go (shuffling off: see docs/distributed.md).
    run 0 mpi 2 "$AUTOENC" train rows.npy -o four.aemodel --batch 8 "${base[@]}" --epochs 4 --distributed
    run 0 mpi 2 "$AUTOENC" train rows.npy -o two.aemodel --batch 8 "${base[@]}" --epochs 2 \
        --save-optimizer --distributed
    run 0 mpi 2 "$AUTOENC" train rows.npy -o resumed.aemodel --resume two.aemodel --epochs 2 \
        --set shuffle=0 --threads 1 -q --distributed
    "$HELPER" weights resumed.aemodel four.aemodel 0 >/dev/null ||
        fail "2 + 2 epochs from the saved model differ from 4 epochs"
    # A killed process ends the job (mpirun's doing): no hang, a non-zero status.
    "${launch[@]}" -np 2 "$AUTOENC" train rows.npy -o killed.aemodel --batch 1 --epochs 1000000 \
        --set shuffle=0 --threads 1 -q --distributed >out.txt 2>err.txt &
    job=$!
    victim=
    for _ in $(seq 1 200); do
        for pid in $(pgrep -f killed.aemodel); do
            [ "$pid" != "$job" ] && tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null |
                grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$pid
        done
        [ -n "$victim" ] && break
        sleep 0.1
    done
    [ -n "$victim" ] || { kill "$job"; fail "no rank 1 to kill"; }
    kill -KILL "$victim"
    # The ranks left must end: rank 0 finds its peer gone (the library's part of it).
    ranks_running() {
        local pid
        for pid in $(pgrep -P "$job"); do
            [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] || return 0
        done
        return 1
    }
    for _ in $(seq 1 600); do ranks_running || break; sleep 0.1; done
    ranks_running && { kill "$job"; fail "a rank still ran 60 s after the other was killed"; }
    # Then mpiexec ends the job. Open MPI 4.1's PMIx sometimes hangs it instead, both ranks
    # gone and one of them never reaped ("PMIX ERROR: UNREACHABLE" in
    # ptl_base_connection_hdlr.c; 3 of 21 runs of this case under ASan): that hang is the
    # launcher's, and only that one is stopped here rather than failed.
    for _ in $(seq 1 100); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$job" 2>/dev/null; then
        grep -q "PMIX ERROR: UNREACHABLE" err.txt || { kill "$job"; fail "mpiexec did not end after its ranks"; }
        kill -KILL "$job"
    fi
    wait "$job" && fail "a job with a killed rank exited 0"
    # A NaN in the last row: the last process names it, the others stop with status 83.
    cp rows.npy nan.npy
    printf '\000\000\300\177' | dd of=nan.npy bs=1 seek=$(($(stat -c %s nan.npy) - 4)) conv=notrunc 2>/dev/null
    keep_output out.aemodel
    "${launch[@]}" -np 2 "$AUTOENC" train nan.npy -o out.aemodel "${settings[@]}" --distributed >out.txt 2>err.txt
    status=$?
    [ $status -eq 65 ] || [ $status -eq 83 ] || { cat err.txt; fail "NaN on one rank: status $status"; }
    contains err.txt "rank 1 of 2: nan.npy: .*(row 203, column 12): NaN"
    untouched out.aemodel
    # Fewer rows than processes, CSV, and what needs every row in one process.
    "$HELPER" npy two.npy 2 12 f4
    "${launch[@]}" -np 3 "$AUTOENC" train two.npy --widths 12,6,3 --distributed -q >out.txt 2>err.txt
    status=$?
    [ $status -eq 65 ] || [ $status -eq 83 ] || { cat err.txt; fail "2 rows, 3 processes: status $status"; }
    contains err.txt "2 rows for 3 processes"
    "$HELPER" csv rows.csv 20 12
    "${launch[@]}" -np 2 "$AUTOENC" train rows.csv --widths 12,6,3 --distributed -q >out.txt 2>err.txt
    [ $? -eq 64 ] || fail "CSV with --distributed"
    contains err.txt "convert it to NPY"
    run 64 mpi 2 "$AUTOENC" train rows.npy --widths 12,6,3 --distributed --contamination 0.1 -q
    [ "$(grep -c "contamination" err.txt)" -eq 1 ] || { cat err.txt; fail "--contamination: one message expected"; }
    ;;
train_fashion)
    [ -r "$FASHION/t10k-images-idx3-ubyte.gz" ] || { echo "note: no Fashion-MNIST: skipped"; exit 0; }
    run 0 "$AUTOENC" train "$FASHION/t10k-images-idx3-ubyte.gz" --class 7 -o sneakers.aemodel \
        --widths 784,64,16 --epochs 3 --loss bce --contamination 0.05 -q --json
    contains out.txt '"rows": 1000,'
    run 0 "$AUTOENC" reconstruct sneakers.aemodel "$FASHION/t10k-images-idx3-ubyte.gz" --rows 10 -o r.npy --png r.png
    run 0 "$AUTOENC" eval sneakers.aemodel "$FASHION/t10k-images-idx3-ubyte.gz" --class 7
    mse=$(sed -n 's/^mse //p' out.txt)
    awk -v m="$mse" 'BEGIN { exit !(m < 0.05) }' || fail "sneaker MSE $mse"
    ;;
*)
    fail "no such case"
    ;;
esac
echo "ok [$CASE]"
