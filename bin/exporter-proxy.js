#!/usr/bin/env -S node --max-semi-space-size=4
// The installed entry point; the compiled CLI lives in dist/.
//
// The V8 flag above caps the young generation at 2 x 4 MB. The default lets
// it grow to 2 x 16 MB under ingest load, which at 100,000 stored series was
// more than half of the process's memory growth; stored text is off the V8
// heap, so the smaller size costs little throughput (bench/run.ts measures
// the proxy with the flags of this line). `node bin/exporter-proxy.js` skips
// them; run this file itself (npm start and the Docker image do).
import { main } from '../dist/src/cli.js';
main(process.argv.slice(2)).then((code) => { if (code !== undefined) process.exitCode = code; });
