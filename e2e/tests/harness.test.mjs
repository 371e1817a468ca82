// Checks of the harness itself: accounts and API sessions, browser sign-in, strict page errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withPage } from '../lib/browser.mjs';
import { ACCOUNTS } from '../lib/server.mjs';
import { setup, TEST } from '../lib/setup.mjs';

const env = setup();

test('every account logs in through the API; writes need the CSRF token', TEST, async () => {
  for (const login of Object.keys(ACCOUNTS)) {
    const me = await (await env.server.api(login)).get('/api/v1/auth/me');
    assert.equal(me.user.login, login);
  }
  const operator = await env.server.api('operator-gryazi');
  const msg = {
    channel: 'vk', source: 'club-adm-gryazi', external_id: 'wall-1_e2e', thread_id: 'wall-1_100',
    author: { id: 'vk:1001', name: 'Мария' }, text: 'На улице Правды в Грязях огромная яма',
    published_at: '2026-03-02T05:55:00Z', territory: 'gryazinsky',
  };
  const out = await operator.message(msg);
  assert.equal(out.created, true);
  assert.equal((await operator.message(msg)).created, false, 'intake is idempotent');
  const card = await operator.incident(out.incident_id);
  assert.equal(card.incident.status, 'new');
  assert.ok(card.allowed_actions.includes('assign'), JSON.stringify(card.allowed_actions));

  // Scope: another municipality does not see it.
  const elsewhere = await (await env.server.api('operator-yelets')).request('GET', `/api/v1/incidents/${out.incident_id}`);
  assert.equal(elsewhere.status, 404);
  // The same write without the CSRF header is refused.
  const res = await fetch(env.server.url(`/api/v1/incidents/${out.incident_id}/actions`), {
    method: 'POST',
    headers: { cookie: `otklik_session=${operator.cookie}`, 'content-type': 'application/json' },
    body: JSON.stringify({ action: 'assign', org: 'adm-gryazinsky' }),
  });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error.code, 'csrf_failed');
  const assigned = await operator.act(out.incident_id, 'assign', { org: 'adm-gryazinsky' });
  assert.equal(assigned.status, 'assigned');
  // Taking into work is the organisation's action, not the control centre's.
  await assert.rejects(operator.act(out.incident_id, 'take'), (e) => e.body?.error?.code === 'forbidden_action');
});

test('signIn opens browser pages with a user session', TEST, async (t) => {
  await withPage(t, env.browser, { before: (context) => env.server.signIn(context, 'curator-lipetsk') }, async (page) => {
    const res = await page.goto(env.server.url('/api/v1/auth/me'));
    assert.equal(res.status(), 200);
    assert.equal((await res.json()).user.login, 'curator-lipetsk');
  });
  await withPage(t, env.browser, { allowErrors: [/status of 401/] }, async (page) => {
    const res = await page.goto(env.server.url('/api/v1/auth/me'));
    assert.equal(res.status(), 401, 'each page starts logged out');
  });
});

test('strict mode fails on console errors and uncaught errors unless they are expected', TEST, async (t) => {
  const misbehave = async (page) => {
    await page.goto(env.server.url('/form'));
    await page.evaluate(() => {
      console.error('e2e: a console error');
      setTimeout(() => { throw new Error('e2e: an uncaught error'); });
    });
    await page.waitForTimeout(200);
  };
  await assert.rejects(withPage(t, env.browser, { failureScreenshot: false }, misbehave),
    /unexpected errors in the page:\n.*e2e: a console error\n.*e2e: an uncaught error/);
  await withPage(t, env.browser, { allowErrors: [/^console\.error: e2e:/, 'uncaught: e2e:'] }, misbehave);
  await withPage(t, env.browser, async (page, { errors }) => {
    errors.allow('e2e:');
    await misbehave(page);
    assert.equal(errors.seen.length, 2, 'the allowed errors are still recorded');
  });
});
