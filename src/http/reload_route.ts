// POST /-/reload: re-read the config file and apply what can change live.
// Admin route (http.admin_auth, see protection.ts). 200 with what was
// applied and what needs a restart; 400 with every problem of an invalid
// file (the running config stays). Text, or JSON when asked.

import type { FastifyInstance } from 'fastify';
import { wantsJson } from './apps_route.js';

export type ReloadOutcome = { ok: true; applied: string[]; needsRestart: string[] } | { ok: false; problems: string[] };

export function registerReloadRoute(app: FastifyInstance, reload: () => ReloadOutcome): void {
  app.post('/-/reload', async (request, reply) => {
    const r = reload();
    if (wantsJson(request)) return reply.code(r.ok ? 200 : 400).send(r.ok ? { status: 'reloaded', applied: r.applied, needs_restart: r.needsRestart } : { status: 'refused', problems: r.problems });
    const text = r.ok
      ? `reloaded\napplied: ${r.applied.join(', ') || 'nothing changed'}\n${r.needsRestart.length ? `needs restart (ignored until then): ${r.needsRestart.join(', ')}\n` : ''}`
      : `config not reloaded; the running config stays:\n${r.problems.join('\n')}\n`;
    return reply.code(r.ok ? 200 : 400).type('text/plain; charset=utf-8').send(text);
  });
}
