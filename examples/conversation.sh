#!/bin/sh
# Renders examples/conversation.wav (two espeak-ng voices taking turns, the
# guest's last line starting 0.4 s before the host stops) and writes its speaker
# turns to examples/conversation.rttm and its transcript, by speaker, to
# examples/conversation.stm. Needs espeak-ng and sox; run from the
# repository root: sh examples/conversation.sh
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# speaker voice gap-before-seconds text (a negative gap talks over the line before)
lines='host en-us 0.2 Welcome back. Today we talk about gardens.
guest en-gb+f2 0.3 Thank you, it is lovely to be here!
host en-us 0.3 So how did you start?
guest en-gb+f2 -0.4 Oh, that is easy.'
at=0
i=0
inputs=""
: > examples/conversation.rttm
: > examples/conversation.stm
echo "$lines" | while read -r who voice gap text; do
  espeak-ng -v "$voice" -s 175 -w "$tmp/raw$i.wav" "$text"
  sox "$tmp/raw$i.wav" -r 16000 -b 16 -c 1 "$tmp/line$i.wav"
  len=$(soxi -D "$tmp/line$i.wav")
  start=$(echo "$at + $gap" | bc -l)
  sox "$tmp/line$i.wav" "$tmp/placed$i.wav" pad "$start"
  printf 'SPEAKER conversation 1 %.4f %.4f <NA> <NA> %s <NA> <NA>\n' "$start" "$len" "$who" >> examples/conversation.rttm
  printf 'conversation 1 %s %.4f %.4f %s\n' "$who" "$start" "$(echo "$start + $len" | bc -l)" "$text" >> examples/conversation.stm
  echo "$tmp/placed$i.wav" >> "$tmp/inputs"
  at=$(echo "$start + $len" | bc -l)
  i=$((i + 1))
done
# Mixed at full level (-v 1 each), 0.2 s of silence after the last line, peaks at -3 dBFS.
set --
while read -r f; do set -- "$@" -v 1 "$f"; done < "$tmp/inputs"
sox -m "$@" -b 16 examples/conversation.wav pad 0 0.2 norm -3
