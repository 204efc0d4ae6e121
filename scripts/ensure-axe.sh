#!/bin/sh
# Put axe-core (the accessibility rules the browser tests run) at
# $VENV/axe-core/axe.min.js, from the npm registry, at one pinned version whose
# tarball must match the sha512 integrity the registry published for it.
#
# tests/e2e/test_a11y.py injects that file into each page. Needs node's npm
# (present on CI machines); does nothing when the pinned version is already there.
set -eu
VERSION=4.14.1
INTEGRITY=sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==
DEST="${VENV:-.venv}/axe-core"
if [ -f "$DEST/axe.min.js" ] && [ "$(cat "$DEST/VERSION" 2>/dev/null)" = "$VERSION" ]; then
    exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm is needed to fetch axe-core $VERSION" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "axe-core@$VERSION" >/dev/null)
tarball="$work/axe-core-$VERSION.tgz"
actual=$(python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tarball")
if [ "$actual" != "$INTEGRITY" ]; then
    echo "axe-core $VERSION: the tarball's integrity is $actual, expected $INTEGRITY" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work" package/axe.min.js
mkdir -p "$DEST"
mv "$work/package/axe.min.js" "$DEST/axe.min.js"
echo "$VERSION" > "$DEST/VERSION"
echo "axe-core $VERSION in $DEST"
