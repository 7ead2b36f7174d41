#!/usr/bin/env bash
# Regenerates the committed H.264 test clip the media interop tests and `webrtc-peer` stream:
# 3 s of ffmpeg's testsrc2 pattern, 640x360 at 30 fps, constrained baseline level 3.1 (what
# every browser decodes), an IDR every second with SPS/PPS repeated before it, no B-frames,
# Annex B byte stream. About 150 KB.
set -euo pipefail
out="${1:-$(dirname "$0")/../Tests/interop/media/testsrc2-360p30-baseline.h264}"
ffmpeg -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=640x360:rate=30" -t 3 \
  -c:v libx264 -profile:v baseline -level 3.1 -pix_fmt yuv420p -preset veryfast \
  -b:v 400k -maxrate 500k -bufsize 500k -g 30 -bf 0 \
  -x264-params "keyint=30:min-keyint=30:scenecut=0:repeat-headers=1:aud=0" \
  -bsf:v h264_mp4toannexb -f h264 "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
