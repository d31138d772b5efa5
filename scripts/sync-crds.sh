#!/bin/sh
# Copies the CRDs (crds/, the single source) into the Helm chart, which must ship them in its own crds/ folder.
# test/helm/chart.test.ts fails while the two differ; run this after changing a CRD.
set -eu
cd "$(dirname "$0")/.."
rm -f helm/durable/crds/*.yaml
cp crds/*.yaml helm/durable/crds/
echo "copied: $(ls crds/*.yaml | tr '\n' ' ')"
