// Starts a real `otklik serve` for one test file: temp database, config, accounts, API helpers.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OTKLIK_BIN = process.env.OTKLIK_BIN || join(REPO_ROOT, 'target', 'debug', 'otklik');
export const PASSWORD = 'e2e correct horse battery';

/** The accounts every test server has: login → [display name, role[:node]]. */
export const ACCOUNTS = {
  admin: ['Администратор', 'admin'],
  'operator-gryazi': ['Оператор МЦУ Грязи', 'municipal_operator:gryazinsky'],
  'operator-yelets': ['Оператор МЦУ Елец', 'municipal_operator:yelets-city'],
  'curator-lipetsk': ['Куратор ЦУР Липецк', 'regional_curator:lipetsk-oblast'],
  'executor-gryazi': ['Исполнитель Грязи', 'org_executor:adm-gryazinsky'],
  'head-gryazi': ['Глава Грязи', 'org_head:adm-gryazinsky'],
  'viewer-lipetsk': ['Наблюдатель Липецк', 'viewer:lipetsk-oblast'],
};

const START_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 10_000;

async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** Runs the binary with arguments (and optional stdin); rejects with its stderr on failure. */
async function otklik(args, input) {
  return new Promise((ok, fail) => {
    const child = execFile(OTKLIK_BIN, args, { timeout: 30_000, env: { ...process.env, OTKLIK_LOG: 'warn' } },
      (err, stdout, stderr) => {
        if (err?.code === 'ENOENT') fail(new Error(`no ${OTKLIK_BIN}: build it (cargo build --bin otklik) or set OTKLIK_BIN`));
        else if (err) fail(new Error(`otklik ${args.slice(0, 2).join(' ')} failed: ${stderr.trim() || err.message}`));
        else ok(stdout);
      });
    child.stdin.end(input ?? '');
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An HTTP error from the API, with the status and the `{"error": …}` body. */
export class ApiError extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path} → ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

/** A logged-in API session: cookie + CSRF token, as the console's scripts would use. */
export class ApiSession {
  constructor(base, login, cookie, csrf, user) {
    Object.assign(this, { base, login, cookie, csrf, user });
  }

  /** Any request; returns {status, headers, body}, never throws on HTTP status. */
  async request(method, path, body, headers = {}) {
    const h = { cookie: `otklik_session=${this.cookie}`, ...headers };
    if (!['GET', 'HEAD', 'OPTIONS'].includes(method)) h['x-csrf-token'] = this.csrf;
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(this.base + path, {
      method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let parsed = text;
    try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  /** A request that must succeed (2xx); returns the parsed body. */
  async ok(method, path, body, headers) {
    const r = await this.request(method, path, body, headers);
    if (r.status < 200 || r.status > 299) throw new ApiError(method, path, r.status, r.body);
    return r.body;
  }

  get(path) { return this.ok('GET', path); }
  post(path, body) { return this.ok('POST', path, body); }

  /** `POST /api/v1/messages`: returns the intake outcome ({incident_id, created, …}). */
  message(msg) { return this.post('/api/v1/messages', msg); }

  /** `GET /api/v1/incidents/{id}`: the card. */
  incident(id) { return this.get(`/api/v1/incidents/${id}`); }

  /** `POST /api/v1/incidents/{id}/actions`: `action` is a name or a full command object. */
  act(id, action, fields = {}) {
    const cmd = typeof action === 'string' ? { action, ...fields } : action;
    return this.post(`/api/v1/incidents/${id}/actions`, cmd);
  }
}

/** Servers still running in this process: killed if the process ends or is interrupted. */
const running = new Set();
let guarded = false;
function guardProcess() {
  if (guarded) return;
  guarded = true;
  const killAll = () => { for (const c of running) { try { c.kill('SIGKILL'); } catch { /* gone */ } } };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => { killAll(); process.kill(process.pid, sig); });
  }
}

/** A running `otklik serve` with its own database; call `stop()` when done. */
export class OtklikServer {
  constructor({ dir, config }) {
    Object.assign(this, { dir, config });
    this.log = [];
    this.sessions = new Map();
    this.child = null;
    this.exited = null;
  }

  url(path = '/') { return this.base + path; }

  /** The last lines the server wrote (for failure messages). */
  logTail(n = 40) { return this.log.slice(-n).join('\n'); }

  /** Logs in through `POST /api/v1/auth/login` (cached per login). */
  async api(login, password = PASSWORD) {
    if (this.sessions.has(login)) return this.sessions.get(login);
    const res = await fetch(this.url('/api/v1/auth/login'), {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ login, password }), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = await res.json().catch(() => null);
    if (res.status !== 200) throw new ApiError('POST', '/api/v1/auth/login', res.status, body);
    const cookie = res.headers.getSetCookie().map((c) => /^otklik_session=([^;]*)/.exec(c)).find(Boolean)?.[1];
    if (!cookie || !body?.csrf_token) throw new Error(`login of ${login}: no session cookie or csrf_token`);
    const s = new ApiSession(this.base, login, cookie, body.csrf_token, body.user);
    this.sessions.set(login, s);
    return s;
  }

  /** Puts `login`'s session cookie into a browser context, so its pages open logged in. */
  async signIn(context, login) {
    const s = await this.api(login);
    await context.addCookies([{
      name: 'otklik_session', value: s.cookie, url: this.base, httpOnly: true, sameSite: 'Strict',
    }]);
    return s;
  }

  /** Starts `otklik serve` on a free port and waits until `GET /healthz` answers 200. */
  async _serve() {
    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    await writeFile(this.config, [
      '[server]',
      `addr = "127.0.0.1:${this.port}"`,
      'secure_cookies = false',
      '',
      '[database]',
      `url = "sqlite://${this.dir}/otklik.db"`,
      '',
    ].join('\n'));
    this.exited = null;
    const child = spawn(OTKLIK_BIN, ['serve', '--config', this.config], {
      cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OTKLIK_LOG: process.env.OTKLIK_LOG || 'info' },
    });
    this.child = child;
    running.add(child);
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        for (const line of chunk.split('\n')) if (line) this.log.push(line);
        if (this.log.length > 2000) this.log.splice(0, this.log.length - 1000);
      });
    }
    child.on('exit', (code, signal) => { this.exited = { code, signal }; running.delete(child); });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (this.exited) return false;
      try {
        const r = await fetch(this.url('/healthz'), { signal: AbortSignal.timeout(1_000) });
        if (r.status === 200) return true;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) {
        throw new Error(`otklik serve not healthy after ${START_TIMEOUT_MS} ms:\n${this.logTail()}`);
      }
      await sleep(100);
    }
  }

  /** Kills the server and removes its directory (kept with OTKLIK_E2E_KEEP=1). */
  async stop() {
    const child = this.child;
    if (child && this.exited === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(t);
    }
    if (!process.env.OTKLIK_E2E_KEEP) await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts a server on a free loopback port over a fresh SQLite database, with the accounts
 * (ACCOUNTS by default, password PASSWORD), and waits for `GET /healthz`.
 */
export async function startServer({ accounts = ACCOUNTS } = {}) {
  guardProcess();
  const dir = await mkdtemp(join(tmpdir(), 'otklik-e2e-'));
  const server = new OtklikServer({ dir, config: join(dir, 'otklik.toml') });
  try {
    // The commands below only need the database; the port is chosen when serving.
    await writeFile(server.config, `[database]\nurl = "sqlite://${dir}/otklik.db"\n`);
    await otklik(['migrate', '--config', server.config]);
    for (const [login, [name, ...roles]] of Object.entries(accounts)) {
      const args = ['user', 'add', '--config', server.config, '--login', login, '--name', name];
      for (const r of roles) args.push('--role', r);
      await otklik(args, PASSWORD + '\n');
    }
    // A free port can be taken by someone else before the server binds it: then try another.
    for (let attempt = 1; ; attempt++) {
      if (await server._serve()) return server;
      const busy = server.log.some((l) => l.includes('cannot listen'));
      if (!busy || attempt === 3) {
        throw new Error(`otklik serve exited (${JSON.stringify(server.exited)}):\n${server.logTail()}`);
      }
    }
  } catch (e) {
    await server.stop();
    throw e;
  }
}
