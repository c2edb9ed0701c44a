#!/bin/sh
# Regenerates the load tester's pre-encoded media (shipped in the repo, embedded in the binary):
# 3 s of VP8 (640x360, 30 fps, about 500 kbit/s, one keyframe at the start of each loop) in IVF,
# and 3 s of Opus (48 kHz, 20 ms packets, 32 kbit/s) in Ogg. Needs ffmpeg with libvpx and libopus.
set -eu
cd "$(dirname "$0")"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=640x360:rate=30" -t 3 \
  -c:v libvpx -b:v 500k -minrate 500k -maxrate 500k -g 90 -keyint_min 90 -auto-alt-ref 0 \
  -deadline realtime -cpu-used 8 -f ivf video.ivf
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 3 \
  -c:a libopus -b:a 32k -frame_duration 20 -ac 1 audio.ogg
