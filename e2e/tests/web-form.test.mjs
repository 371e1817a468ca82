// The citizens' web form and tracking page in a real browser against a real `otklik serve`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withPage, screenshot, PHONE } from '../lib/browser.mjs';
import { pngBytes } from '../lib/images.mjs';
import { setup, TEST } from '../lib/setup.mjs';

const HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>';

const env = setup();

/** Fills the form the way a person does with a mouse; fields left out stay as they are. */
async function fillForm(page, v) {
  if (v.direction !== undefined) await page.getByLabel('Направление').selectOption(v.direction);
  if (v.category !== undefined) await page.getByLabel('Тема').selectOption(v.category);
  if (v.territory !== undefined) await page.getByLabel('Муниципальное образование').selectOption(v.territory);
  if (v.address !== undefined) await page.getByLabel('Адрес или ориентир').fill(v.address);
  if (v.lat !== undefined) await page.getByLabel('Широта').fill(v.lat);
  if (v.lon !== undefined) await page.getByLabel('Долгота').fill(v.lon);
  if (v.text !== undefined) await page.getByLabel('Описание проблемы').fill(v.text);
  if (v.photos !== undefined) await page.getByLabel(/^Фотографии/).setInputFiles(v.photos);
  if (v.name !== undefined) await page.getByLabel('Как к вам обращаться').fill(v.name);
  if (v.contact !== undefined) await page.getByLabel('Телефон или электронная почта для связи').fill(v.contact);
  if (v.consent) await page.getByLabel(/согласие|согласен/).check();
}

const formPost = (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/form';

/** Does `action` and waits until the page it leads to has loaded; returns the form POST's status. */
async function sendForm(page, action) {
  const [res] = await Promise.all([page.waitForResponse(formPost), page.waitForEvent('load'), action()]);
  return res.status();
}

/** Clicks «Отправить»; returns the status of the form's POST once its answer has loaded. */
function submit(page) {
  return sendForm(page, () => page.getByRole('button', { name: 'Отправить' }).click());
}

/** On the confirmation page: the appeal's number and tracking URL. */
async function confirmation(page) {
  assert.equal(await page.locator('h1').textContent(), 'Сообщение принято');
  const id = Number(await page.locator('p', { hasText: 'Номер обращения' }).locator('strong').textContent());
  assert.ok(Number.isInteger(id) && id > 0, `an appeal number, got ${id}`);
  const link = page.getByRole('link', { name: /\/track\// });
  const href = await link.getAttribute('href');
  assert.match(href, new RegExp(`^${env.server.base}/track/form/[0-9a-f]{32}$`));
  assert.equal((await link.textContent()).trim(), href, 'the link shows itself, so that it can be copied');
  return { id, href, link };
}

const valid = {
  category: 'roads.surface.potholes',
  territory: 'gryazinsky',
  address: 'Грязи, ул. Правды, 5',
  text: 'На улице Правды у дома 5 глубокая яма, машины бьют колёса',
  name: 'Анна',
  contact: 'anna@example.org',
  consent: true,
};

test('the form renders in Russian with labelled fields, on a desktop and a phone', TEST, async (t) => {
  for (const viewport of [undefined, PHONE]) {
    await withPage(t, env.browser, { viewport }, async (page) => {
      const res = await page.goto(env.server.url('/form'));
      assert.equal(res.status(), 200);
      assert.equal(await page.locator('html').getAttribute('lang'), 'ru');
      assert.match(await page.title(), /^Сообщить о проблеме/);
      assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Сообщить о проблеме');

      // Every field is found by its Russian label, as assistive technology finds it.
      const fields = {
        direction: 'Направление', category: 'Тема', territory: 'Муниципальное образование',
        address: 'Адрес или ориентир', lat: 'Широта', lon: 'Долгота', text: 'Описание проблемы',
        photos: /^Фотографии/, name: 'Как к вам обращаться', contact: 'Телефон или электронная почта для связи',
        consent: /согласие|согласен/,
      };
      for (const [id, label] of Object.entries(fields)) {
        const el = page.getByLabel(label);
        assert.equal(await el.count(), 1, `one field labelled ${label}`);
        assert.equal(await el.getAttribute('id'), id, `the field labelled ${label}`);
        assert.ok(await el.isVisible(), `${id} is visible`);
      }
      // And no visible control is left without a label.
      const unlabelled = await page.evaluate(() => [...document.querySelectorAll('form input, form select, form textarea')]
        .filter((el) => el.type !== 'hidden' && !el.closest('[aria-hidden="true"]') && el.labels.length === 0)
        .map((el) => el.name));
      assert.deepEqual(unlabelled, []);
      for (const id of ['category', 'text', 'consent']) {
        assert.equal(await page.locator(`#${id}`).getAttribute('aria-required'), 'true', `${id} is marked required`);
      }
      assert.ok(await page.getByRole('button', { name: 'Отправить' }).isVisible());
      // Topics and places come from the reference data, in Russian.
      assert.ok(await page.locator('#category option', { hasText: 'Ямы и выбоины на дорогах' }).count() === 1);
      assert.ok(await page.locator('#territory option[value="gryazinsky"]').count() === 1);
      // The honeypot stays out of sight.
      const hp = await page.locator('#website').boundingBox();
      assert.ok(hp && hp.x + hp.width <= 0, 'the honeypot is off-screen');
      assert.equal(await page.locator('.hp').getAttribute('aria-hidden'), 'true');
      // Nothing sticks out sideways (a phone must not scroll horizontally).
      const { scroll, width } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth,
      }));
      assert.ok(scroll <= width, `no horizontal scrolling: content ${scroll}px in ${width}px`);

      await screenshot(page, viewport === PHONE ? 'web-form-phone' : 'web-form');
    });
  }
});

test('choosing a direction narrows the topics to it', TEST, async (t) => {
  await withPage(t, env.browser, async (page) => {
    await page.goto(env.server.url('/form'));
    const groups = () => page.locator('#category optgroup').evaluateAll((gs) =>
      gs.map((g) => ({ direction: g.dataset.direction, on: !g.disabled && !g.hidden })));
    const all = await groups();
    const directions = new Set(all.map((g) => g.direction));
    assert.ok(all.length > 5 && directions.size > 3, `topics of several directions (${all.length} groups)`);
    assert.ok(all.every((g) => g.on), 'with no direction every topic is offered');

    // A topic of another direction is chosen, then the direction «Дороги».
    const housing = await page.locator('#category optgroup:not([data-direction="roads"]) option').first().getAttribute('value');
    await page.getByLabel('Тема').selectOption(housing);
    await page.getByLabel('Направление').selectOption({ label: 'Дороги' });
    assert.equal(await page.getByLabel('Направление').inputValue(), 'roads');
    const narrowed = await groups();
    assert.ok(narrowed.some((g) => g.on), 'road topics are offered');
    for (const g of narrowed) assert.equal(g.on, g.direction === 'roads', `group of ${g.direction}`);
    assert.equal(await page.getByLabel('Тема').inputValue(), '', 'a topic of another direction is dropped');
    const offered = await page.locator('#category optgroup:not([disabled]) option').evaluateAll((os) => os.map((o) => o.value));
    assert.ok(offered.length > 0 && offered.every((v) => v.startsWith('roads.')), offered.join(', '));
    await page.getByLabel('Тема').selectOption('roads.surface.potholes');
    assert.equal(await page.getByLabel('Тема').inputValue(), 'roads.surface.potholes');

    // Back to all directions: everything is offered again and the choice stays.
    await page.getByLabel('Направление').selectOption('');
    assert.ok((await groups()).every((g) => g.on));
    assert.equal(await page.getByLabel('Тема').inputValue(), 'roads.surface.potholes');
  });
});

test('a submission with a photo and hostile text is tracked, and the text stays inert', TEST, async (t) => {
  await withPage(t, env.browser, async (page) => {
    await page.goto(env.server.url('/form'));
    const text = `Яма на дороге ${HOSTILE} & "кавычки" — машины бьют колёса`;
    await fillForm(page, {
      ...valid, text, photos: [{ name: 'yama.png', mimeType: 'image/png', buffer: pngBytes(8, 8) }],
    });
    assert.equal(await submit(page), 201);
    const { id, link } = await confirmation(page);

    await Promise.all([page.waitForURL(/\/track\/form\//), link.click()]);
    assert.equal(await page.locator('h1').textContent(), `Обращение № ${id}`);
    // Nothing of the text became markup (the CSP would also block it, and strict mode fail on that).
    const dom = await page.evaluate(() => ({
      xss: typeof window.__xss,
      inlineScripts: [...document.scripts].filter((s) => !s.src || s.textContent.includes('__xss')).length,
      strayImages: document.querySelectorAll('img[src="x"], img[onerror]').length,
    }));
    assert.deepEqual(dom, { xss: 'undefined', inlineScripts: 0, strayImages: 0 });
    const quote = page.locator('blockquote.citizen');
    assert.equal(await quote.evaluate((q) => q.children.length), 0, 'the quote holds text only');
    assert.ok((await quote.innerText()).includes(text), 'the literal text is shown');
    assert.ok(await page.getByText(HOSTILE, { exact: false }).isVisible(), 'the markup is visible as text');

    assert.equal(await page.locator('dd.status').textContent(), 'Принято');
    assert.ok(await page.getByText('Ямы и выбоины на дорогах').isVisible(), 'the topic is shown');
    // The photo is served back and is a real image.
    const photo = page.getByRole('img', { name: 'Фотография к обращению' });
    assert.equal(await photo.count(), 1);
    await photo.scrollIntoViewIfNeeded();
    await page.waitForFunction(() => {
      const img = document.querySelector('img[alt="Фотография к обращению"]');
      return img && img.complete && img.naturalWidth === 8;
    }, null, { timeout: 10_000 });
    assert.match(await photo.getAttribute('src'), /^\/files\/[0-9a-f]{32}\.png$/);
    assert.ok(await page.getByText('Сообщение принято').isVisible(), 'the history starts with the intake');
    await screenshot(page, 'tracking-page');
  });
});

test('a form with mistakes names them and keeps what was typed', TEST, async (t) => {
  // Chromium logs the 422 answer of the form's POST as a failed resource: expected here.
  await withPage(t, env.browser, { allowErrors: [/status of 422/] }, async (page) => {
    await page.goto(env.server.url('/form'));
    assert.equal(await page.getByRole('alert').count(), 0, 'no errors before sending');
    await fillForm(page, {
      direction: 'roads', address: 'Грязи, ул. Правды', lat: '52,5', text: 'Яма!', name: 'Пётр', contact: '+7 900 000-00-00',
    });
    assert.equal(await submit(page), 422);
    const alert = page.getByRole('alert');
    assert.ok(await alert.isVisible(), 'the error list is shown');
    const items = await alert.locator('li').allInnerTexts();
    for (const expected of [
      'Выберите тему сообщения.',
      'Опишите проблему подробнее (не меньше 10 символов).',
      'Нужно согласие на обработку персональных данных.',
    ]) assert.ok(items.includes(expected), `«${expected}» in ${JSON.stringify(items)}`);
    assert.ok(items.some((i) => i.startsWith('Укажите обе координаты')), 'a lone latitude is refused');
    assert.equal(items.length, 4, JSON.stringify(items));

    assert.equal(await page.getByLabel('Направление').inputValue(), 'roads');
    assert.equal(await page.getByLabel('Адрес или ориентир').inputValue(), 'Грязи, ул. Правды');
    assert.equal(await page.getByLabel('Широта').inputValue(), '52,5');
    assert.equal(await page.getByLabel('Описание проблемы').inputValue(), 'Яма!');
    assert.equal(await page.getByLabel('Как к вам обращаться').inputValue(), 'Пётр');
    assert.equal(await page.getByLabel('Телефон или электронная почта для связи').inputValue(), '+7 900 000-00-00');
    assert.equal(await page.getByLabel(/согласие|согласен/).isChecked(), false);

    // Correcting the mistakes on the same page sends it.
    await fillForm(page, { category: 'roads.surface.potholes', lon: '39,93', text: valid.text, consent: true });
    assert.equal(await submit(page), 201);
    await confirmation(page);
  });
});

test('an answer published by the control centre is read and rated on the tracking page', TEST, async (t) => {
  await withPage(t, env.browser, async (page) => {
    await page.goto(env.server.url('/form'));
    await fillForm(page, valid);
    assert.equal(await submit(page), 201);
    const { id, href } = await confirmation(page);

    const answer = 'Яма заделана 3 марта. <b>не жирный</b>';
    const operator = await env.server.api('operator-gryazi');
    const executor = await env.server.api('executor-gryazi');
    const curator = await env.server.api('curator-lipetsk');
    await operator.act(id, 'assign', { org: 'adm-gryazinsky' });
    await executor.act(id, 'take');
    await executor.act(id, 'draft_answer', { kind: 'final', text: answer });
    await executor.act(id, 'submit_for_review');
    await curator.act(id, 'approve');
    const published = await operator.act(id, 'publish');
    assert.equal(published.status, 'answered');

    await page.goto(href);
    assert.equal(await page.locator('dd.status').textContent(), 'Дан ответ');
    assert.ok(await page.getByRole('heading', { name: 'Ответ', exact: true }).isVisible());
    assert.equal(await page.locator('.answer-text').innerText(), answer, 'the answer, as text');
    assert.equal(await page.locator('.answer-text b').count(), 0);
    assert.ok(await page.getByText('Администрация Грязинского муниципального округа').isVisible(), 'the organisation');
    assert.ok(await page.getByText('Опубликован ответ').isVisible(), 'the history names the answer');

    await page.getByRole('radio', { name: '4' }).check();
    await page.getByLabel('Комментарий').fill('Спасибо, быстро сделали');
    // The rating is POSTed and redirected back to the same address: wait for the new page.
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Оценить' }).click()]);
    assert.equal(page.url(), href);
    const rated = page.getByText('Ваша оценка: 4');
    assert.ok(await rated.isVisible(), 'the rating is shown');
    assert.equal(await page.getByRole('button', { name: 'Оценить' }).count(), 0, 'a rating is given once');
    assert.ok(await page.getByRole('button', { name: 'Вернуть на доработку' }).isVisible());
    const card = await operator.incident(id);
    assert.equal(card.incident.rating, 4);
    await screenshot(page, 'tracking-answered');
  });
});

test('the form can be filled and sent with the keyboard alone', TEST, async (t) => {
  await withPage(t, env.browser, async (page) => {
    await page.goto(env.server.url('/form'));
    const text = 'Не горит фонарь у остановки, вечером темно';
    const visited = [];
    let sent = false;
    for (let i = 0; i < 40 && !sent; i++) {
      await page.keyboard.press('Tab');
      const f = await page.evaluate(() => {
        const el = document.activeElement;
        const s = getComputedStyle(el);
        return { id: el.id || el.textContent.trim(), tag: el.tagName, outline: s.outlineStyle, ring: s.outlineWidth };
      });
      visited.push(f.id);
      if (f.tag !== 'BODY') assert.notEqual(f.outline, 'none', `a visible focus on ${f.id}`);
      if (f.id === 'category') {
        await page.keyboard.press('ArrowDown');
        assert.notEqual(await page.locator('#category').inputValue(), '', 'a topic chosen with the arrow key');
      } else if (f.id === 'text') {
        await page.keyboard.type(text);
      } else if (f.id === 'consent') {
        await page.keyboard.press('Space');
        assert.equal(await page.locator('#consent').isChecked(), true);
      } else if (f.id === 'Отправить') {
        assert.equal(await sendForm(page, () => page.keyboard.press('Enter')), 201, `sent: ${visited.join(' → ')}`);
        sent = true;
      }
    }
    assert.ok(sent, `the send button is reachable: ${visited.join(' → ')}`);
    const order = visited.filter((id) => ['direction', 'category', 'text', 'consent', 'Отправить'].includes(id));
    assert.deepEqual(order, ['direction', 'category', 'text', 'consent', 'Отправить'], visited.join(' → '));
    assert.ok(!visited.includes('website'), 'the honeypot is not in the tab order');

    // The tracking link is reachable with Tab and opens with Enter.
    const { id } = await confirmation(page);
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => document.activeElement.href?.includes('/track/'))) break;
    }
    await Promise.all([page.waitForURL(/\/track\/form\//), page.keyboard.press('Enter')]);
    assert.equal(await page.locator('h1').textContent(), `Обращение № ${id}`);
    assert.ok((await page.locator('blockquote.citizen').innerText()).includes(text));
  });
});
