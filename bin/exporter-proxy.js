#!/usr/bin/env node
// The installed entry point; the compiled CLI lives in dist/.
import { main } from '../dist/src/cli.js';
main(process.argv.slice(2)).then((code) => { if (code !== undefined) process.exitCode = code; });
