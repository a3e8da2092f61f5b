// app.js -- the console's entry: a hash router over the four pages
// (#/queue, #/case/<id>, #/register, #/node) and the identity banner.
import { whoami } from './api.js';
import { h, clear } from './dom.js';
import { stop } from './live.js';
import * as queue from './queue.js';
import * as kase from './case.js';
import * as register from './register.js';
import * as nodepage from './nodepage.js';

const main = document.getElementById('main');

async function route() {
  stop();
  const hash = location.hash || '#/queue';
  const m = hash.match(/^#\/case\/(.+)$/);
  const page = m ? 'queue' : hash.slice(2);
  for (const a of document.querySelectorAll('nav a')) {
    if (a.id === `nav-${page}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  try {
    if (m) await kase.render(main, decodeURIComponent(m[1]));
    else if (page === 'register') await register.render(main);
    else if (page === 'node') await nodepage.render(main);
    else await queue.render(main);
    document.title = `${main.querySelector('h1') ? main.querySelector('h1').textContent : 'axle'} – axle console`;
  } catch (e) {
    clear(main, h('h1', {}, 'Something went wrong'), h('p', { class: 'status error', role: 'alert' }, e.message));
  }
}

async function banner() {
  try {
    const me = await whoami();
    document.getElementById('who').textContent = `${me.caller} on ${me.region}`;
  } catch (e) {
    document.getElementById('who').textContent = `not connected: ${e.message}`;
  }
}

window.addEventListener('hashchange', () => { route(); main.focus(); });
banner();
route();
