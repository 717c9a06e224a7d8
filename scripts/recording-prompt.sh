#!/usr/bin/env bash
# Makes the consent prompt callmask ships (src/callmask/sip/recording-prompt.wav), or one of
# your own: scripts/recording-prompt.sh OUT.wav "Your words." [espeak-ng voice]
# Needs espeak-ng and sox (apt-get install espeak-ng sox). The result is what callmask mixes
# into recordings: mono, 16-bit, 8000 Hz; rtpengine plays it to both parties at answer.
set -euo pipefail
out=${1:-"$(dirname "$0")/../src/callmask/sip/recording-prompt.wav"}
words=${2:-"This call is recorded."}
voice=${3:-en-us}
spoken=$(mktemp --suffix=.wav)
trap 'rm -f "$spoken"' EXIT
espeak-ng -v "$voice" -s 150 -w "$spoken" "$words"
# Resampled to the telephone rate, loudness normalised to -3 dBFS, 0.2 s of silence after
# the words so they do not run into the conversation; -R makes the dither repeatable, so the
# same words give the same file.
sox -R "$spoken" -r 8000 -c 1 -b 16 "$out" norm -3 pad 0 0.2
