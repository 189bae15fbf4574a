// The login page: trade a bearer token (from `gridwatch token create`) for an HttpOnly session cookie.
import { api } from './api.js';
import { initI18n, setLang, currentLang, t } from './i18n.js';

async function main() {
  await initI18n();
  const lang = document.getElementById('lang');
  lang.value = currentLang();
  lang.addEventListener('change', () => setLang(lang.value));
  const form = document.getElementById('login-form');
  const error = document.getElementById('login-error');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const token = form.token.value.trim();
    const name = form.name.value.trim();
    try {
      await api.post('/api/v1/session', { token, name: name || null });
      window.location.assign('/');
    } catch (err) {
      if (err.status === 401 || err.status === 403 || err.status === 422) error.textContent = t('login.refused');
      else if (err.status === 429) error.textContent = t('login.too_many');
      else error.textContent = t('error.generic', { message: err.message });
      error.hidden = false;
    }
  });
}

main();
