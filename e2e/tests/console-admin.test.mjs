// The console's newer work in a real browser: splitting a message out of an incident on the card,
// and an administrator editing reference data and answer templates (refusals shown in Russian).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withPage, screenshot, unnamedControls } from '../lib/browser.mjs';
import { setup, TEST } from '../lib/setup.mjs';

const env = setup();

/** Page options that open the page logged in as `login` (a context of its own). */
const as = (login, opts = {}) => ({ ...opts, before: (c) => env.server.signIn(c, login) });

/** Submits a form by clicking `button` and waits for the page its answer loads. */
async function submit(page, button) {
  await Promise.all([page.waitForEvent('load'), button.click()]);
}

/** Like `submit`, and fails if the page answered with a refusal. */
async function post(page, button) {
  await submit(page, button);
  const alert = page.getByRole('alert');
  if (await alert.count()) assert.fail(`refused: «${(await alert.first().innerText()).trim()}»`);
}

let seq = 0;
async function message(api, text, threadId) {
  seq += 1;
  const out = await api.message({
    channel: 'vk', source: 'club-adm-gryazi', external_id: `admin-e2e-${Date.now()}-${seq}`, thread_id: threadId,
    author: { id: `vk:${8000 + seq}`, name: `Житель ${seq}` }, text, published_at: new Date().toISOString(),
    territory: 'gryazinsky',
  });
  assert.equal(out.created, true);
  return out.incident_id;
}

test('split: an operator moves a message about something else into an incident of its own', TEST, async (t) => {
  const api = await env.server.api('operator-gryazi');
  const main = await message(api, 'На улице Правды в Грязях глубокая яма у дома 15', 'wall-1_10');
  const other = await message(api, 'А ещё во дворе на Советской не вывозят мусор вторую неделю', 'wall-1_20');
  await api.act(other, 'merge', { into: main });
  assert.equal((await api.incident(main)).messages.length, 2);

  let created;
  await withPage(t, env.browser, as('operator-gryazi'), async (page) => {
    await page.goto(env.server.url(`/incidents/${main}`));
    const buttons = page.getByRole('button', { name: /^Выделить в отдельное обращение сообщение/ });
    assert.equal(await buttons.count(), 2, 'each message can be split out');
    await screenshot(page, 'console-card-two-messages');
    await post(page, page.getByRole('button', { name: /^Выделить в отдельное обращение сообщение 2 / }));
    // The new incident's card opens: it needs moderation and routing.
    const heading = await page.getByRole('heading', { level: 1 }).innerText();
    created = Number(heading.replace(/\D+/g, ''));
    assert.ok(created > 0 && created !== main && created !== other, heading);
    assert.ok(await page.getByText('вторую неделю').first().isVisible(), 'the moved message is here');
    assert.ok(await page.getByRole('cell', { name: 'Выделено из другого обращения' }).isVisible());
    assert.ok(await page.getByText(`выделено из обращения № ${main}`).isVisible());
    assert.ok(await page.getByRole('button', { name: 'Подтвердить классификацию' }).isVisible(), 'a fresh incident');
    await screenshot(page, 'console-card-split');

    await page.goto(env.server.url(`/incidents/${main}`));
    assert.ok(await page.getByText(`выделено в обращение № ${created}`).isVisible(), 'the source\'s history tells');
    assert.equal(await page.getByRole('button', { name: /^Выделить в отдельное обращение/ }).count(), 0,
      'the only message left cannot be split');
  });
  const source = await api.incident(main);
  assert.deepEqual(source.messages.map((m) => m.text), ['На улице Правды в Грязях глубокая яма у дома 15']);
  const fresh = await api.incident(created);
  assert.equal(fresh.incident.status, 'new');
  assert.equal(fresh.incident.municipality, 'gryazinsky');
  assert.equal(fresh.messages.length, 1);
});

test('administration: an organisation and a routing rule are edited; a refused edit is explained in Russian', TEST, async (t) => {
  const api = await env.server.api('admin');
  await withPage(t, env.browser, as('admin', { allowErrors: [/status of 422/] }), async (page) => {
    await page.goto(env.server.url('/admin'));
    assert.deepEqual(await unnamedControls(page), [], 'every control of the administration page has a name');
    await page.getByText('Показать список').first().click();
    await submit(page, page.getByRole('link', { name: /^Изменить организацию Администрация Грязинского/ }));
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Организация: adm-gryazinsky');
    assert.equal(await page.getByLabel('Код').inputValue(), 'adm-gryazinsky');
    assert.deepEqual(await unnamedControls(page), [], 'every control of the form has a name');
    await page.getByLabel('Название').fill('Администрация Грязинского округа (приёмная)');
    await page.getByLabel('Часы работы').fill('08:00-12:00,13:00-17:00');
    await screenshot(page, 'console-admin-organisation');
    await post(page, page.getByRole('button', { name: 'Сохранить' }));
    assert.match(page.url(), /\/admin\?saved=organisations#orgs$/);
    assert.ok(await page.getByRole('status').filter({ hasText: 'Изменения сохранены.' }).isVisible());
    const org = (await api.get('/api/v1/organisations')).find((o) => o.code === 'adm-gryazinsky');
    assert.equal(org.name, 'Администрация Грязинского округа (приёмная)');
    assert.equal(org.working_hours, '08:00-12:00,13:00-17:00');

    // A new routing rule, then an edit of it.
    await submit(page, page.getByRole('link', { name: 'Добавить правило' }));
    await page.getByLabel('Код правила').fill('gryazi-waste-e2e');
    await page.getByLabel('Тема').selectOption('waste');
    await page.getByLabel('Территория').selectOption('gryazinsky');
    await page.getByLabel('Исполнитель', { exact: true }).selectOption('adm-gryazinsky');
    await page.getByLabel('Приоритет').fill('3');
    await screenshot(page, 'console-admin-rule');
    await post(page, page.getByRole('button', { name: 'Сохранить' }));
    await submit(page, page.getByRole('link', { name: 'Изменить правило gryazi-waste-e2e' }));
    assert.equal(await page.getByLabel('Приоритет').inputValue(), '3');
    await page.getByLabel('Приоритет').fill('9');
    await post(page, page.getByRole('button', { name: 'Сохранить' }));
    let rule = (await api.get('/api/v1/routing-rules')).find((r) => r.code === 'gryazi-waste-e2e');
    assert.deepEqual([rule.org, rule.category, rule.territory, rule.priority], ['adm-gryazinsky', 'waste', 'gryazinsky', 9]);

    // Refused: the lead organisation named as its own co-executor. The reason is in Russian, beside
    // the form, which keeps what was typed; nothing changes.
    await submit(page, page.getByRole('link', { name: 'Изменить правило gryazi-waste-e2e' }));
    await page.getByLabel('Соисполнители').fill('adm-gryazinsky');
    await page.getByLabel('Приоритет').fill('1');
    await submit(page, page.getByRole('button', { name: 'Сохранить' }));
    const alert = page.getByRole('alert');
    assert.equal((await alert.innerText()).trim(),
      'Изменение не сохранено. В правиле «gryazi-waste-e2e» «adm-gryazinsky» и исполнитель, и соисполнитель.');
    assert.equal(await page.getByLabel('Соисполнители').inputValue(), 'adm-gryazinsky');
    await screenshot(page, 'console-admin-refused');
    rule = (await api.get('/api/v1/routing-rules')).find((r) => r.code === 'gryazi-waste-e2e');
    assert.deepEqual([rule.co_executors, rule.priority], [[], 9], 'a refused edit changes nothing');

    // Deleted from its form.
    await page.goto(env.server.url('/admin/edit/routing-rules?code=gryazi-waste-e2e'));
    await post(page, page.getByRole('button', { name: 'Удалить «gryazi-waste-e2e»' }));
    assert.equal((await api.get('/api/v1/routing-rules')).some((r) => r.code === 'gryazi-waste-e2e'), false);
  });
});

test('administration: answer templates are kept by administrators and used in the answer editor', TEST, async (t) => {
  const api = await env.server.api('operator-gryazi');
  const id = await message(api, 'В Грязях на улице Гагарина не горит фонарь', 'wall-1_30');
  await api.act(id, 'assign', { org: 'adm-gryazinsky' });
  await (await env.server.api('executor-gryazi')).act(id, 'take');
  await withPage(t, env.browser, as('admin', { allowErrors: [/status of 422/] }), async (page) => {
    await page.goto(env.server.url('/admin#templates'));
    const form = page.getByRole('form', { name: 'Новый шаблон' });
    await form.getByLabel('Название').fill('Фонарь');
    await form.getByLabel('Текст').fill('Фонарь по обращению № {номер} починят до {дата}.');
    await submit(page, form.getByRole('button', { name: 'Добавить шаблон' }));
    assert.match(await page.getByRole('alert').innerText(), /^Шаблон не сохранён\. Неизвестная подстановка «\{дата\}»/);
    const again = page.getByRole('form', { name: 'Новый шаблон' });
    await again.getByLabel('Текст').fill('Фонарь по обращению № {номер} починят до {срок}.');
    await post(page, again.getByRole('button', { name: 'Добавить шаблон' }));
    assert.ok(await page.getByRole('form', { name: 'Шаблон «Фонарь»' }).isVisible());
    await page.getByRole('heading', { name: /^Шаблоны ответов/ }).scrollIntoViewIfNeeded();
    await screenshot(page, 'console-admin-templates');
  });
  await withPage(t, env.browser, as('executor-gryazi'), async (page) => {
    await page.goto(env.server.url(`/incidents/${id}`));
    await page.getByLabel('Шаблон').selectOption({ label: 'Фонарь' });
    const filled = await page.getByLabel('Текст ответа').inputValue();
    assert.match(filled, new RegExp(`^Фонарь по обращению № ${id} починят до \\d\\d\\.\\d\\d\\.\\d{4} \\d\\d:\\d\\d\\.$`));
  });
});
