#!/bin/sh
# wait-for-file.sh FILE SECONDS: returns once FILE exists, fails after SECONDS.
# (deploy/image/build.sh: the package build may still be writing the .deb;
# deploy/package.sh moves it into dist/ whole, so its existence is enough.)
file="$1"; left="${2:-0}"
while [ ! -f "$file" ]; do
  if [ "$left" -le 0 ]; then
    echo "image: $file did not appear (deploy/package.sh failed or is still running)" >&2
    exit 1
  fi
  sleep 1
  left=$((left - 1))
done
