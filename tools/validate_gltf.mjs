#!/usr/bin/env node
// Validate one .glb/.gltf with the Khronos glTF validator and print its JSON report to stdout.
//
//   node tools/validate_gltf.mjs path/to/avatar.glb [--max-issues N]
//
// Exit status: 0 = report printed, no errors; 1 = report printed, it has errors;
// 2 = no report (bad arguments, unreadable file, or the validator rejected the input).
// External resources (buffers/images by URI) are refused: our GLBs must be self-contained,
// and a refused resource shows up in the report as an error.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { validateBytes } from 'gltf-validator';

const args = process.argv.slice(2);
let maxIssues = 0; // 0 = unlimited
const maxAt = args.indexOf('--max-issues');
if (maxAt >= 0) {
  maxIssues = Number.parseInt(args[maxAt + 1], 10);
  args.splice(maxAt, 2);
}
if (args.length !== 1 || !Number.isInteger(maxIssues) || maxIssues < 0) {
  console.error('usage: node validate_gltf.mjs <file.glb|file.gltf> [--max-issues N]');
  process.exit(2);
}

try {
  const bytes = new Uint8Array(await readFile(args[0]));
  const report = await validateBytes(bytes, {
    uri: basename(args[0]),
    maxIssues,
    writeTimestamp: false,
    externalResourceFunction: (uri) =>
      Promise.reject(new Error(`external resource refused: ${uri} (GLBs must be self-contained)`)),
  });
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  process.exit(report.issues.numErrors > 0 ? 1 : 0);
} catch (err) {
  console.error(`validate_gltf: ${err && err.message ? err.message : err}`);
  process.exit(2);
}
