#!/bin/sh
# Refresh the vendored GraphiQL assets from the npm registry (needs npm; run from this directory).
# Change a version here and in api/graphiql.html, run this script, then run tests/test_api_graphiql.py.
set -eu
REACT=18.2.0
GRAPHIQL=3.9.0
EXPLORER=1.0.2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for package in "react@$REACT" "react-dom@$REACT" "graphiql@$GRAPHIQL" "@graphiql/plugin-explorer@$EXPLORER"; do
  tarball=$(npm pack --silent --pack-destination "$work" "$package")
  mkdir -p "$work/${tarball%.tgz}" && tar -xzf "$work/$tarball" -C "$work/${tarball%.tgz}"
done
rm -f ./*.js ./*.css
cp "$work/react-$REACT/package/umd/react.production.min.js" "react-$REACT.production.min.js"
cp "$work/react-dom-$REACT/package/umd/react-dom.production.min.js" "react-dom-$REACT.production.min.js"
cp "$work/graphiql-$GRAPHIQL/package/graphiql.min.js" "graphiql-$GRAPHIQL.min.js"
cp "$work/graphiql-$GRAPHIQL/package/graphiql.min.css" "graphiql-$GRAPHIQL.min.css"
cp "$work/graphiql-plugin-explorer-$EXPLORER/package/dist/index.umd.js" "plugin-explorer-$EXPLORER.umd.js"
cp "$work/graphiql-plugin-explorer-$EXPLORER/package/dist/style.css" "plugin-explorer-$EXPLORER.css"
cp "$work/react-$REACT/package/LICENSE" LICENSE.react
cp "$work/graphiql-$GRAPHIQL/package/LICENSE" LICENSE.graphiql
# the source maps are not vendored: drop the comments that point at them
sed -i '/sourceMappingURL=/d' ./*.js
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' ./*.css
ls -l
