#!/usr/bin/env node
// The CLI is bundled into dist/ by scripts/build.ts (`npm ci` and `npm pack` run it through `prepare`).
import '../dist/cli.mjs';
