// Bundles the dashboard (src/dashboard) into dist/dashboard/: minified, content-hashed assets and a manifest.json
// that the server reads (src/http/dashboard.ts). The bundling itself lives in that module, so a checkout running
// from source and a built package serve the same bundle. Prints each file's size, raw and gzipped.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { tsImport } from 'tsx/esm/api';

const root = fileURLToPath(new URL('..', import.meta.url));
// `--out <dir>`: somewhere else than dist/dashboard (the image test builds into its own stage directory).
const outFlag = process.argv.indexOf('--out');
const out =
  outFlag > 0 && process.argv[outFlag + 1] ? resolve(process.argv[outFlag + 1]) : join(root, 'dist', 'dashboard');
const { bundleDashboard } = await tsImport('../src/http/dashboard.ts', import.meta.url);
const { manifest, files } = await bundleDashboard();
rmSync(out, { recursive: true, force: true });
for (const file of files) {
  const target = join(out, file.path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, file.contents);
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  process.stdout.write(
    `${join(out, file.path)}  ${kb(file.contents.length)} (gzip ${kb(gzipSync(file.contents).length)})\n`,
  );
}
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
