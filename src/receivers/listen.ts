// Opening listeners with errors a user can act on: which address, and why.
// Unix sockets: a stale socket file left by a crashed run is replaced; a
// live one (another proxy answers) or a non-socket file is never touched.

import net from 'node:net';
import fs from 'node:fs';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ListenError } from '../errors.js';

const reasons: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
  ENOENT: 'directory does not exist',
  ENOTDIR: 'a path component is not a directory',
  EROFS: 'read-only file system',
};

export function listenError(what: string, err: NodeJS.ErrnoException): ListenError {
  return new ListenError(`cannot listen on ${what}: ${reasons[err.code ?? ''] ?? err.message}`);
}

/** Listen on host:port; resolves with the bound port (useful with port 0). */
export function listenTcp(server: net.Server, host: string, port: number, what = `tcp ${host}:${port}`): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(what, err));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export interface UnixSocketOptions {
  path: string;
  /** 'current_user' / 'current_group' leave ownership as created. */
  user: string;
  group: string;
  mode: number;
}

export async function listenUnix(server: net.Server, opts: UnixSocketOptions): Promise<void> {
  const what = `unix socket ${opts.path}`;
  checkSocketDir(opts.path, what);
  await removeStaleSocket(opts.path, what);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(what, err));
    server.once('error', onError);
    server.listen({ path: opts.path }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  try {
    fs.chmodSync(opts.path, opts.mode);
    const uid = opts.user === 'current_user' ? -1 : resolveId(opts.user, '/etc/passwd', 'unix_socket_user');
    const gid = opts.group === 'current_group' ? -1 : resolveId(opts.group, '/etc/group', 'unix_socket_group');
    if (uid !== -1 || gid !== -1) fs.chownSync(opts.path, uid, gid);
  } catch (err) {
    server.close();
    if (err instanceof ListenError) throw err;
    throw new ListenError(`cannot set owner or mode of ${what}: ${(err as Error).message}`);
  }
}

/** libuv reports a missing directory as EACCES; say what is really wrong. */
function checkSocketDir(path: string, what: string): void {
  const dir = dirname(path);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new ListenError(`cannot listen on ${what}: directory ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new ListenError(`cannot listen on ${what}: ${dir} is not a directory`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new ListenError(`cannot listen on ${what}: directory ${dir} is not writable by this user`);
  }
}

async function removeStaleSocket(path: string, what: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new ListenError(`cannot listen on ${what}: the path exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect({ path }, () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
  if (alive) throw new ListenError(`cannot listen on ${what}: another process is listening on it`);
  fs.unlinkSync(path);
}

/** A user or group name (or number) to its numeric id, from the passwd/group file. */
function resolveId(name: string, file: string, key: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name) return Number(fields[2]);
  }
  throw new ListenError(`${key}: no such ${key.endsWith('user') ? 'user' : 'group'} ${JSON.stringify(name)} in ${file}`);
}
