// argv -> config -> proxy.start(); exit codes: 0 ok, 1 runtime failure
// (a listener could not open), 2 bad usage or bad config.

import { readFileSync } from 'node:fs';
import { loadConfig } from './config/config.js';
import { ConfigError, ProxyError } from './errors.js';
import { ExporterProxy } from './app.js';
import { stderrLogger } from './log.js';

const USAGE = `Usage: exporter-proxy [--config FILE] [--check-config FILE] [--version] [--help]

  --config FILE        run the proxy with this TOML config (default: config.toml)
  --check-config FILE  validate the config and exit: 0 valid, 2 invalid
  --version            print the version and exit
  --help               print this help and exit
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

interface Args {
  config: string;
  check?: string;
  help?: boolean;
  version?: boolean;
}

function parseArgs(argv: string[]): Args | string {
  const args: Args = { config: 'config.toml' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--config':
      case '-c': {
        const v = value();
        if (!v) return `${flag} needs a file`;
        args.config = v;
        break;
      }
      case '--check-config': {
        const v = value();
        if (!v) return `${flag} needs a file`;
        args.check = v;
        break;
      }
      case '--help':
      case '-h':
        args.help = true;
        break;
      case '--version':
      case '-V':
        args.version = true;
        break;
      default:
        return `unknown argument ${JSON.stringify(a)}`;
    }
  }
  return args;
}

/** Runs the CLI; resolves with an exit code, or undefined while serving. */
export async function main(argv: string[]): Promise<number | undefined> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    process.stderr.write(`exporter-proxy: ${args}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`exporter-proxy ${version()}\n`);
    return 0;
  }
  const path = args.check ?? args.config;
  let config;
  try {
    config = loadConfig(path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) process.stderr.write(`${path}: ${p.startsWith(path) ? p.slice(path.length + 2) : p}\n`);
    return 2;
  }
  if (args.check) {
    process.stdout.write(`${path}: valid\n`);
    return 0;
  }
  const logger = stderrLogger();
  const proxy = new ExporterProxy({ config, logger, configPath: path });
  // Signal handlers go in before start(): "started" is logged inside it, and
  // a SIGHUP or SIGTERM sent as soon as that line appears must not find
  // Node's default action (exit) still in place.
  let stopping = false;
  let started: Promise<unknown> = Promise.resolve();
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    started
      .then(() => proxy.stop())
      .then(
        () => process.exit(0),
        (err) => {
          logger.error('shutdown failed', { err });
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Re-read the config and apply what can change live; an invalid file is
  // logged with its problems and the running config stays (reloadFromFile logs).
  process.on('SIGHUP', () => {
    if (stopping) return;
    logger.info('reloading config', { signal: 'SIGHUP', file: path });
    proxy.reloadFromFile();
  });
  started = proxy.start();
  try {
    await started;
  } catch (err) {
    process.stderr.write(`exporter-proxy: ${err instanceof ProxyError ? err.message : (err as Error).stack}\n`);
    return 1;
  }
  return undefined;
}
