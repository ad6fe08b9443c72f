// Fortress web UI: register, log in, manage your items, your sessions and your account through the JSON API.
//
// Security rules this file keeps (ui_test.go checks the mechanical ones):
// - The access token lives only in a variable of this closure. It is never written to web storage or to a
//   cookie, so other scripts and other tabs cannot read it, and a reload forgets it.
// - The refresh token never reaches this script: the login asks for it as a cookie (refresh_delivery=cookie)
//   that the server marks HttpOnly, SameSite=Strict and Path=/auth. The browser sends it only to /auth/...;
//   POST /auth/refresh trades it for a new access token, on page load (so a reload keeps the user logged
//   in) and when an API call answers 401 (the access token expired).
// - Text from users or the server is only ever placed with textContent, attribute setters or form values;
//   markup is never built from strings, so an item named "<img onerror=...>" stays plain text.
// - Requests go to this origin only; a "next page" link pointing anywhere else is ignored, so the bearer
//   token cannot be sent to another site.
// - No native alert, confirm or prompt dialogs: confirmations use the page's own <dialog>.
'use strict';

(function () {
  // Limits mirror the server's validation so mistakes are caught before a round trip; the server remains
  // the authority and its answer is always shown.
  const PASSWORD_MIN = 12;
  const PASSWORD_MAX = 256;
  const NAME_MAX = 255;
  const DESCRIPTION_MAX = 10000;

  let accessToken = null;
  let sessionEmail = '';
  // generation changes whenever the signed-in state changes (login, logout, session ended), so that a
  // response arriving afterwards (for the previous user, or after logging out) is dropped instead of
  // being shown or stored.
  let generation = 0;
  // refreshing is the refresh in flight, shared by every caller: the server rotates the refresh cookie on
  // each use and treats a reused one as stolen, so two refreshes must never race.
  let refreshing = null;
  let nextPage = null;
  let totalCount = null;
  // items maps an item id (as a string) to {data, li}: the last known item and its list entry.
  const items = new Map();

  // Other tabs of this origin hear about logouts, so that a tab does not keep using a session that was
  // ended in another one. Only the fact is sent, never a token.
  const channel = typeof window.BroadcastChannel === 'function' ? new window.BroadcastChannel('fortress-session') : null;

  const byId = (id) => document.getElementById(id);
  const ui = {
    loading: byId('loading'),
    status: byId('status'),
    alert: byId('alert'),
    alertText: byId('alert-text'),
    alertList: byId('alert-list'),
    session: byId('session'),
    sessionEmail: byId('session-email'),
    logout: byId('logout'),
    auth: byId('auth'),
    loginForm: byId('login-form'),
    loginEmail: byId('login-email'),
    loginPassword: byId('login-password'),
    registerForm: byId('register-form'),
    registerEmail: byId('register-email'),
    registerPassword: byId('register-password'),
    items: byId('items'),
    itemsHeading: byId('items-heading'),
    itemsCount: byId('items-count'),
    itemsEmpty: byId('items-empty'),
    createForm: byId('create-form'),
    createName: byId('create-name'),
    createDescription: byId('create-description'),
    list: byId('item-list'),
    loadMore: byId('load-more'),
    template: byId('item-template'),
    account: byId('account'),
    sessionsHeading: byId('sessions-heading'),
    sessionsReload: byId('sessions-reload'),
    sessionsEmpty: byId('sessions-empty'),
    sessionList: byId('session-list'),
    sessionTemplate: byId('session-template'),
    signOutEverywhere: byId('sign-out-everywhere'),
    passwordForm: byId('password-form'),
    passwordCurrent: byId('password-current'),
    passwordNew: byId('password-new'),
    passwordConfirm: byId('password-confirm'),
    deleteForm: byId('delete-form'),
    deletePassword: byId('delete-password'),
    deleteConfirm: byId('delete-confirm'),
    confirmDialog: byId('confirm-dialog'),
    confirmText: byId('confirm-text'),
    confirmOK: byId('confirm-ok'),
    confirmCancel: byId('confirm-cancel'),
  };

  // ApiError carries what the user should read: the problem document's detail and, for validation
  // failures, one line per offending field.
  class ApiError extends Error {
    constructor(status, detail, fieldMessages) {
      super(detail);
      this.status = status;
      this.detail = detail;
      this.fieldMessages = fieldMessages;
    }
  }

  // charCount counts code points, as the server does, rather than UTF-16 units, so an emoji counts once.
  function charCount(s) {
    return Array.from(s).length;
  }

  function fallbackDetail(status) {
    if (status === 0) return 'The server could not be reached. Check your connection and try again.';
    return 'The request failed (HTTP ' + status + ').';
  }

  function fieldLocation(e) {
    for (const key of ['pointer', 'field', 'path', 'location', 'name']) {
      if (typeof e[key] === 'string' && e[key] !== '') return e[key];
    }
    if (Array.isArray(e.loc)) return e.loc.filter((p) => p !== 'body').join('.');
    return '';
  }

  // problemFrom turns an error response body into an ApiError. Fortress sends RFC 9457 problem documents
  // with a string detail; FastAPI-style {"detail": [{loc, msg}]} bodies are understood too.
  function problemFrom(status, body) {
    let detail = fallbackDetail(status);
    const fieldMessages = [];
    if (body && typeof body === 'object') {
      if (typeof body.detail === 'string' && body.detail !== '') {
        detail = body.detail;
      } else if (typeof body.title === 'string' && body.title !== '') {
        detail = body.title;
      }
      if (status === 422) {
        const list = Array.isArray(body.errors) ? body.errors : Array.isArray(body.detail) ? body.detail : [];
        if (Array.isArray(body.detail)) detail = 'The input is not valid.';
        for (const e of list) {
          if (!e || typeof e !== 'object') continue;
          const message = typeof e.message === 'string' ? e.message : typeof e.msg === 'string' ? e.msg : '';
          if (message === '') continue;
          const where = fieldLocation(e);
          fieldMessages.push(where ? where + ': ' + message : message);
        }
      }
    }
    return new ApiError(status, detail, fieldMessages);
  }

  // send makes one HTTP request and resolves to {status, headers, data}, or rejects with an ApiError. It is
  // the only place that calls fetch: same origin only, cookies only to the same origin, never cached.
  async function send(method, url, { json, form, token } = {}) {
    const headers = { Accept: 'application/json' };
    let body;
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    if (token) headers.Authorization = 'Bearer ' + token;
    let response;
    try {
      response = await fetch(url, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
    } catch (_) {
      throw new ApiError(0, fallbackDetail(0), []);
    }
    let data = null;
    const type = response.headers.get('Content-Type') || '';
    if (response.status !== 204 && /[/+]json\b/i.test(type)) {
      try {
        data = await response.json();
      } catch (_) {
        data = null;
      }
    }
    if (!response.ok) throw problemFrom(response.status, data);
    return { status: response.status, headers: response.headers, data };
  }

  function notAuthenticated() {
    return new ApiError(401, 'Not authenticated', []);
  }

  // takeToken keeps the access token of a login or refresh answer. A refresh token in the body (from a
  // server that ignored refresh_delivery=cookie) is deliberately never read.
  function takeToken(data) {
    if (!data || typeof data.access_token !== 'string' || data.access_token === '') {
      throw new ApiError(500, 'The server sent an unexpected answer to the login.', []);
    }
    accessToken = data.access_token;
  }

  // withRefreshLock runs fn while holding a lock shared by every tab of this origin (where the browser
  // has Web Locks), so that two tabs never present the same refresh cookie: the second one waits and then
  // sends the cookie the first one's refresh rotated.
  function withRefreshLock(fn) {
    if (navigator.locks && typeof navigator.locks.request === 'function') {
      return navigator.locks.request('fortress-refresh', fn);
    }
    return fn();
  }

  // refreshAccess trades the HttpOnly refresh cookie for a new access token. It resolves true when it got
  // one, false when the server refused (no cookie, or a session that has ended), and rejects with an
  // ApiError when the server could not answer (network, rate limit, 5xx), which must not end the session.
  function refreshAccess() {
    if (refreshing === null) {
      const mine = generation;
      refreshing = withRefreshLock(async () => {
        try {
          const { data } = await send('POST', '/auth/refresh');
          if (mine !== generation) return false;
          takeToken(data);
          return true;
        } catch (err) {
          if (err instanceof ApiError && err.status === 401) {
            if (mine === generation) accessToken = null;
            return false;
          }
          throw err;
        }
      }).finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  // request sends an API call. With auth it carries the access token; when the server answers 401 (the
  // token expired or was refused), it refreshes once and retries once. A 401 that remains is rejected
  // for the caller to end the session.
  async function request(method, url, options = {}) {
    if (!options.auth) return send(method, url, options);
    const mine = generation;
    if (accessToken === null && !(await refreshAccess())) throw notAuthenticated();
    if (mine !== generation) throw notAuthenticated();
    const used = accessToken;
    try {
      return await send(method, url, Object.assign({}, options, { token: used }));
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401 || mine !== generation) throw err;
      // A concurrent call may already have refreshed while this one was in flight.
      if (accessToken === used && !(await refreshAccess())) throw err;
      if (mine !== generation || accessToken === null) throw err;
      return send(method, url, Object.assign({}, options, { token: accessToken }));
    }
  }

  // Messages --------------------------------------------------------------------------------------------

  function showStatus(text) {
    ui.status.textContent = text;
    ui.status.hidden = text === '';
  }

  function clearAlert() {
    ui.alert.hidden = true;
    ui.alertText.textContent = '';
    ui.alertList.replaceChildren();
  }

  function showAlert(text, lines) {
    ui.alertText.textContent = text;
    ui.alertList.replaceChildren();
    for (const line of lines || []) {
      const li = document.createElement('li');
      li.textContent = line;
      ui.alertList.appendChild(li);
    }
    ui.alertList.hidden = ui.alertList.childElementCount === 0;
    ui.alert.hidden = false;
  }

  function showError(err) {
    if (err instanceof ApiError) {
      showAlert(err.detail, err.fieldMessages);
    } else {
      showAlert('Something went wrong in the page. Please reload and try again.', []);
    }
  }

  function clearMessages() {
    showStatus('');
    clearAlert();
  }

  function setFieldError(input, errorEl, message) {
    errorEl.textContent = message;
    errorEl.hidden = message === '';
    if (message === '') {
      input.removeAttribute('aria-invalid');
    } else {
      input.setAttribute('aria-invalid', 'true');
    }
  }

  // checkFields shows each check's message next to its field and focuses the first invalid one.
  // Each check is [input, errorElement, message-or-empty]. It reports whether all passed.
  function checkFields(checks) {
    let first = null;
    for (const [input, errorEl, message] of checks) {
      setFieldError(input, errorEl, message);
      if (message !== '' && first === null) first = input;
    }
    if (first !== null) first.focus();
    return first === null;
  }

  function emailProblem(value) {
    if (value.trim() === '') return 'Enter your email address.';
    if (!/^[^\s@]+@[^\s@]+$/.test(value.trim())) return 'Enter an email address like name@example.com.';
    return '';
  }

  function nameProblem(value) {
    const n = charCount(value);
    if (n < 1) return 'Enter a name.';
    if (n > NAME_MAX) return 'Use at most ' + NAME_MAX + ' characters (this has ' + n + ').';
    return '';
  }

  function descriptionProblem(value) {
    const n = charCount(value);
    if (n > DESCRIPTION_MAX) return 'Use at most 10,000 characters (this has ' + n + ').';
    return '';
  }

  // setBusy disables a form's controls while its request runs, so a double click sends one request.
  function setBusy(form, busy) {
    for (const control of form.querySelectorAll('button, input, textarea')) control.disabled = busy;
    form.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  // resetForm empties a form and hides its field errors.
  function resetForm(form) {
    form.reset();
    for (const el of form.querySelectorAll('.field-error')) {
      el.textContent = '';
      el.hidden = true;
    }
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  }

  function passwordProblem(value) {
    const n = charCount(value);
    if (n < PASSWORD_MIN) return 'Use at least ' + PASSWORD_MIN + ' characters (this has ' + n + ').';
    if (n > PASSWORD_MAX) return 'Use at most ' + PASSWORD_MAX + ' characters (this has ' + n + ').';
    return '';
  }

  // askConfirm shows the page's own confirmation dialog and resolves true when the user confirms. It is a
  // <dialog> rather than window.confirm: styled like the page, focus kept inside while open, and Cancel
  // (or Escape) is the default for what cannot be undone.
  function askConfirm(message, confirmLabel) {
    const dialog = ui.confirmDialog;
    if (dialog.open) return Promise.resolve(false);
    return new Promise((resolve) => {
      const opener = document.activeElement;
      const done = (answer) => {
        ui.confirmOK.removeEventListener('click', onOK);
        ui.confirmCancel.removeEventListener('click', onCancel);
        dialog.removeEventListener('close', onClose);
        if (dialog.open) dialog.close();
        if (opener && typeof opener.focus === 'function' && opener.isConnected) opener.focus();
        resolve(answer);
      };
      const onOK = () => done(true);
      const onCancel = () => done(false);
      const onClose = () => done(false);
      ui.confirmText.textContent = message;
      ui.confirmOK.textContent = confirmLabel;
      ui.confirmOK.addEventListener('click', onOK);
      ui.confirmCancel.addEventListener('click', onCancel);
      dialog.addEventListener('close', onClose);
      dialog.showModal();
      ui.confirmCancel.focus();
    });
  }

  // Signed-in state -------------------------------------------------------------------------------------

  function broadcast(message) {
    if (channel !== null) channel.postMessage(message);
  }

  function signedIn() {
    return accessToken !== null && !ui.items.hidden;
  }

  function showSignedIn() {
    ui.loading.hidden = true;
    ui.sessionEmail.textContent = sessionEmail;
    ui.session.hidden = false;
    ui.auth.hidden = true;
    ui.items.hidden = false;
    ui.account.hidden = false;
  }

  function showSignedOut() {
    accessToken = null;
    sessionEmail = '';
    generation += 1;
    resetItems();
    resetSessions();
    ui.loading.hidden = true;
    ui.sessionEmail.textContent = '';
    ui.session.hidden = true;
    ui.items.hidden = true;
    ui.account.hidden = true;
    ui.auth.hidden = false;
    resetForm(ui.createForm);
    resetForm(ui.passwordForm);
    resetForm(ui.deleteForm);
  }

  // endedHere shows the login form after this page ended the session on purpose (logout, sign out
  // everywhere, password change, account deletion), and tells the other tabs, whose session it was too.
  function endedHere(message, email) {
    showSignedOut();
    clearAlert();
    showStatus(message);
    broadcast('signed-out');
    ui.loginEmail.value = email;
    if (email !== '') {
      ui.loginPassword.focus();
    } else {
      ui.loginEmail.focus();
    }
  }

  // sessionEnded handles a 401 that a refresh could not cure: the session expired or was ended elsewhere,
  // so the token is dropped and the user is asked to log in again.
  function sessionEnded(err) {
    const email = sessionEmail;
    showSignedOut();
    showStatus('');
    showAlert('Your session has ended (' + err.detail + '). Please log in again.', []);
    ui.loginEmail.value = email;
    ui.loginPassword.focus();
  }

  // handleAuthError routes a failed call made with the access token: a 401 ends the session, anything
  // else is shown.
  function handleAuthError(err) {
    if (err instanceof ApiError && err.status === 401) {
      sessionEnded(err);
    } else {
      showError(err);
    }
  }

  // enterSession shows the signed-in page once an access token is held: the account's email from
  // GET /auth/me (fallbackEmail when that fails for a reason other than 401), then the items and sessions.
  async function enterSession(fallbackEmail, focusItems) {
    const mine = generation;
    let email = fallbackEmail;
    try {
      const { data } = await request('GET', '/auth/me', { auth: true });
      if (data && typeof data.email === 'string') email = data.email;
    } catch (err) {
      if (mine !== generation) return;
      if (err instanceof ApiError && err.status === 401) {
        sessionEnded(err);
        return;
      }
      // The account's details only label the page; the items can still be shown.
    }
    if (mine !== generation) return;
    sessionEmail = email;
    showSignedIn();
    if (focusItems) ui.itemsHeading.focus();
    await Promise.all([loadItems(true), loadSessions()]);
  }

  // restore runs on page load: the refresh cookie, if the browser holds a live one, silently brings the
  // session back; otherwise the login form is shown.
  async function restore() {
    try {
      if (await refreshAccess()) {
        await enterSession('', false);
        return;
      }
      showSignedOut();
    } catch (err) {
      showSignedOut();
      showError(err);
    }
  }

  async function onLogin(event) {
    event.preventDefault();
    clearMessages();
    const email = ui.loginEmail.value.trim();
    const password = ui.loginPassword.value;
    const ok = checkFields([
      [ui.loginEmail, byId('login-email-error'), emailProblem(email)],
      [ui.loginPassword, byId('login-password-error'), password === '' ? 'Enter your password.' : ''],
    ]);
    if (!ok) return;
    setBusy(ui.loginForm, true);
    try {
      // refresh_delivery=cookie: the refresh token comes back as an HttpOnly cookie, never in the body.
      const { data } = await request('POST', '/auth/login', {
        form: { username: email, password, refresh_delivery: 'cookie' },
      });
      generation += 1;
      takeToken(data);
      ui.loginPassword.value = '';
      showStatus('');
      broadcast('signed-in');
      await enterSession(email, true);
    } catch (err) {
      showError(err);
      ui.loginPassword.focus();
    } finally {
      setBusy(ui.loginForm, false);
    }
  }

  async function onRegister(event) {
    event.preventDefault();
    clearMessages();
    const email = ui.registerEmail.value.trim();
    const password = ui.registerPassword.value;
    const ok = checkFields([
      [ui.registerEmail, byId('register-email-error'), emailProblem(email)],
      [ui.registerPassword, byId('register-password-error'), passwordProblem(password)],
    ]);
    if (!ok) return;
    setBusy(ui.registerForm, true);
    try {
      const { data } = await request('POST', '/auth/register', { json: { email, password } });
      ui.registerForm.reset();
      const created = data && typeof data.email === 'string' ? data.email : email;
      const id = data && data.id !== undefined ? ' (user #' + String(data.id) + ')' : '';
      showStatus('Account created for ' + created + id + '. You can log in now.');
      ui.loginEmail.value = created;
      ui.loginPassword.focus();
    } catch (err) {
      showError(err);
    } finally {
      setBusy(ui.registerForm, false);
    }
  }

  async function onLogout() {
    clearMessages();
    const mine = generation;
    ui.logout.disabled = true;
    try {
      await request('POST', '/auth/logout', { auth: true });
    } catch (err) {
      // A 401 means the session had already ended: there is nothing left to end. Anything else (the
      // server could not be reached) leaves the session alive, so the user is told and stays signed in.
      if (!(err instanceof ApiError && err.status === 401)) {
        if (mine === generation) showAlert('Logging out failed: ' + (err instanceof ApiError ? err.detail : 'unexpected error') + ' Try again.', []);
        return;
      }
    } finally {
      ui.logout.disabled = false;
    }
    if (mine === generation) endedHere('You have logged out.', '');
  }

  // Sessions and account ------------------------------------------------------------------------------

  function resetSessions() {
    ui.sessionList.replaceChildren();
    ui.sessionsEmpty.hidden = true;
  }

  function isSession(s) {
    return s !== null && typeof s === 'object' && (typeof s.id === 'number' || typeof s.id === 'string');
  }

  // formatTime shows an RFC 3339 time in the reader's locale and time zone, or as sent if it is not one.
  function formatTime(value) {
    const raw = text(value);
    const d = new Date(raw);
    if (raw === '' || Number.isNaN(d.getTime())) return raw === '' ? 'unknown' : raw;
    return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  // describeAgent names the browser and system of a User-Agent string ("Firefox on Linux"), or returns
  // the start of the string when it names neither.
  function describeAgent(ua) {
    if (ua === '') return 'Unknown client';
    const browsers = [[/Edg\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\//, 'Firefox'], [/Chrom(?:e|ium)\//, 'Chrome'],
      [/Safari\//, 'Safari'], [/^curl\//, 'curl']];
    const systems = [[/Android/, 'Android'], [/iPhone|iPad/, 'iOS'], [/Windows/, 'Windows'], [/CrOS/, 'ChromeOS'],
      [/Mac OS X|Macintosh/, 'macOS'], [/Linux/, 'Linux']];
    const browser = browsers.find(([re]) => re.test(ua));
    if (!browser) return charCount(ua) > 80 ? Array.from(ua).slice(0, 79).join('') + '\u2026' : ua;
    const system = systems.find(([re]) => re.test(ua));
    return browser[1] + (system ? ' on ' + system[1] : '');
  }

  async function loadSessions() {
    const mine = generation;
    ui.sessionList.setAttribute('aria-busy', 'true');
    ui.sessionsReload.disabled = true;
    try {
      const { data } = await request('GET', '/auth/sessions', { auth: true });
      if (mine !== generation) return;
      if (!Array.isArray(data)) throw new ApiError(500, 'The server sent an unexpected list of sessions.', []);
      // The current session first, then as the server ordered them.
      const list = data.filter(isSession);
      list.sort((a, b) => (b.current === true ? 1 : 0) - (a.current === true ? 1 : 0));
      ui.sessionList.replaceChildren(...list.map(buildSession));
      ui.sessionsEmpty.hidden = list.length !== 0;
    } catch (err) {
      if (mine === generation) handleAuthError(err);
    } finally {
      ui.sessionList.removeAttribute('aria-busy');
      ui.sessionsReload.disabled = false;
    }
  }

  // buildSession clones the session entry template and fills it from one session of GET /auth/sessions.
  function buildSession(s) {
    const li = ui.sessionTemplate.content.firstElementChild.cloneNode(true);
    const agent = text(s.user_agent);
    const label = describeAgent(agent);
    const agentEl = li.querySelector('.session-agent');
    agentEl.textContent = label;
    if (agent !== '') agentEl.setAttribute('title', agent);
    li.querySelector('.session-created').textContent = formatTime(s.created_at);
    li.querySelector('.session-used').textContent = formatTime(s.last_used_at);
    li.querySelector('.session-expires').textContent = formatTime(s.expires_at);
    li.querySelector('.session-ip').textContent = text(s.client_ip) || 'unknown';
    const current = s.current === true;
    li.querySelector('.session-current').hidden = !current;
    li.classList.toggle('current', current);
    const button = li.querySelector('.session-end');
    button.setAttribute('aria-label', 'End session: ' + label + (current ? ' (this browser)' : '') +
      ', last used ' + formatTime(s.last_used_at));
    button.addEventListener('click', () => endSession(s, label, button));
    return li;
  }

  async function endSession(s, label, button) {
    const current = s.current === true;
    const question = current
      ? 'End this session? You will be logged out in this browser.'
      : 'End the session of ' + label + '? That browser or app will have to log in again.';
    if (!(await askConfirm(question, 'End session'))) return;
    clearMessages();
    const mine = generation;
    button.disabled = true;
    try {
      await request('DELETE', '/auth/sessions/' + encodeURIComponent(String(s.id)), { auth: true });
      if (mine !== generation) return;
      if (current) {
        endedHere('You have logged out: this session has ended.', '');
        return;
      }
      showStatus('The session of ' + label + ' has ended.');
      await loadSessions();
      ui.sessionsHeading.focus();
    } catch (err) {
      if (mine !== generation) return;
      if (err instanceof ApiError && err.status === 404) {
        showAlert(err.detail, []);
        await loadSessions();
      } else {
        handleAuthError(err);
      }
    } finally {
      button.disabled = false;
    }
  }

  async function onSignOutEverywhere() {
    const question = 'Sign out everywhere? Every session of your account ends, this one included.';
    if (!(await askConfirm(question, 'Sign out everywhere'))) return;
    clearMessages();
    const mine = generation;
    const email = sessionEmail;
    ui.signOutEverywhere.disabled = true;
    try {
      await request('DELETE', '/auth/sessions', { auth: true });
      if (mine === generation) endedHere('You have signed out everywhere: every session of your account has ended.', email);
    } catch (err) {
      if (mine === generation) handleAuthError(err);
    } finally {
      ui.signOutEverywhere.disabled = false;
    }
  }

  async function onPasswordChange(event) {
    event.preventDefault();
    clearMessages();
    const current = ui.passwordCurrent.value;
    const next = ui.passwordNew.value;
    const currentError = byId('password-current-error');
    const ok = checkFields([
      [ui.passwordCurrent, currentError, current === '' ? 'Enter your current password.' : ''],
      [ui.passwordNew, byId('password-new-error'), passwordProblem(next)],
      [ui.passwordConfirm, byId('password-confirm-error'),
        ui.passwordConfirm.value !== next ? 'This differs from the new password above.' : ''],
    ]);
    if (!ok) return;
    const mine = generation;
    const email = sessionEmail;
    setBusy(ui.passwordForm, true);
    try {
      await request('POST', '/auth/password', { json: { current_password: current, new_password: next }, auth: true });
      if (mine !== generation) return;
      endedHere('Your password has been changed and every session has ended. Log in with your new password.', email);
    } catch (err) {
      if (mine !== generation) return;
      if (err instanceof ApiError && err.status === 403) {
        checkFields([[ui.passwordCurrent, currentError, err.detail]]);
      } else {
        handleAuthError(err);
      }
    } finally {
      setBusy(ui.passwordForm, false);
    }
  }

  async function onDeleteAccount(event) {
    event.preventDefault();
    clearMessages();
    const password = ui.deletePassword.value;
    const passwordError = byId('delete-password-error');
    const ok = checkFields([
      [ui.deletePassword, passwordError, password === '' ? 'Enter your password.' : ''],
      [ui.deleteConfirm, byId('delete-confirm-error'), ui.deleteConfirm.checked ? '' : 'Tick the box to confirm.'],
    ]);
    if (!ok) return;
    const mine = generation;
    setBusy(ui.deleteForm, true);
    try {
      await request('DELETE', '/auth/me', { json: { password }, auth: true });
      if (mine !== generation) return;
      endedHere('Your account and all its items have been deleted.', '');
    } catch (err) {
      if (mine !== generation) return;
      if (err instanceof ApiError && err.status === 403) {
        checkFields([[ui.deletePassword, passwordError, err.detail]]);
      } else {
        handleAuthError(err);
      }
    } finally {
      setBusy(ui.deleteForm, false);
    }
  }

  // Items -----------------------------------------------------------------------------------------------

  function resetItems() {
    items.clear();
    ui.list.replaceChildren();
    nextPage = null;
    totalCount = null;
    ui.loadMore.hidden = true;
    ui.itemsCount.textContent = '';
    ui.itemsEmpty.hidden = true;
  }

  function updateCount() {
    const shown = items.size;
    if (totalCount !== null && totalCount >= shown) {
      ui.itemsCount.textContent = 'Showing ' + shown + ' of ' + totalCount + (totalCount === 1 ? ' item' : ' items');
    } else {
      ui.itemsCount.textContent = shown + (shown === 1 ? ' item' : ' items');
    }
    ui.itemsEmpty.hidden = shown !== 0 || nextPage !== null;
    ui.loadMore.hidden = nextPage === null;
  }

  // nextLink returns the same-origin path of the rel="next" target in an RFC 8288 Link header, or null.
  function nextLink(header) {
    if (!header) return null;
    const linkRe = /<([^>]*)>((?:\s*;\s*[^;,]*)*)/g;
    let m;
    while ((m = linkRe.exec(header)) !== null) {
      const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2]);
      if (!rel) continue;
      const rels = (rel[1] !== undefined ? rel[1] : rel[2]).toLowerCase().split(/\s+/);
      if (!rels.includes('next')) continue;
      let url;
      try {
        url = new URL(m[1], window.location.href);
      } catch (_) {
        return null;
      }
      if (url.origin !== window.location.origin || !url.pathname.startsWith('/items')) return null;
      return url.pathname + url.search;
    }
    return null;
  }

  async function loadItems(reset) {
    const mine = generation;
    const url = reset ? '/items/' : nextPage;
    if (url === null) return;
    ui.list.setAttribute('aria-busy', 'true');
    ui.loadMore.disabled = true;
    try {
      const { headers, data } = await request('GET', url, { auth: true });
      if (mine !== generation) return;
      if (!Array.isArray(data)) throw new ApiError(500, 'The server sent an unexpected list of items.', []);
      if (reset) resetItems();
      for (const item of data) upsertItem(item);
      const total = headers.get('X-Total-Count');
      totalCount = total !== null && /^\d+$/.test(total.trim()) ? Number(total.trim()) : null;
      nextPage = nextLink(headers.get('Link'));
      updateCount();
    } catch (err) {
      if (mine === generation) handleAuthError(err);
    } finally {
      ui.list.removeAttribute('aria-busy');
      ui.loadMore.disabled = false;
    }
  }

  function isItem(item) {
    return item !== null && typeof item === 'object' && (typeof item.id === 'number' || typeof item.id === 'string');
  }

  // upsertItem shows an item, replacing its entry if it is already listed (a page fetched after a local
  // create may contain it again).
  function upsertItem(item) {
    if (!isItem(item)) return;
    const key = String(item.id);
    let entry = items.get(key);
    if (!entry) {
      entry = { data: item, li: buildItem(key) };
      items.set(key, entry);
      ui.list.appendChild(entry.li);
    }
    entry.data = item;
    fillItem(entry);
  }

  function removeItem(key) {
    const entry = items.get(key);
    if (!entry) return;
    entry.li.remove();
    items.delete(key);
    if (totalCount !== null && totalCount > 0) totalCount -= 1;
    updateCount();
  }

  function text(value) {
    return value === null || value === undefined ? '' : String(value);
  }

  function fillItem(entry) {
    const { data, li } = entry;
    const name = text(data.name);
    const description = text(data.description);
    li.querySelector('.item-name').textContent = name;
    li.querySelector('.item-id').textContent = '#' + text(data.id);
    const desc = li.querySelector('.item-description');
    desc.textContent = description;
    desc.hidden = description === '';
    li.querySelector('.item-edit').setAttribute('aria-label', 'Edit ' + name);
    li.querySelector('.item-delete').setAttribute('aria-label', 'Delete ' + name);
  }

  // buildItem clones the list entry template and wires its buttons; the template holds no user data.
  function buildItem(key) {
    const li = ui.template.content.firstElementChild.cloneNode(true);
    const view = li.querySelector('.item-view');
    const form = li.querySelector('.item-form');
    const nameInput = li.querySelector('.item-form-name');
    const descInput = li.querySelector('.item-form-description');
    const nameError = li.querySelector('.item-form-name-error');
    const descError = li.querySelector('.item-form-description-error');
    const prefix = 'item-' + key.replace(/[^A-Za-z0-9_-]/g, '_');
    nameInput.id = prefix + '-name';
    descInput.id = prefix + '-description';
    nameError.id = prefix + '-name-error';
    descError.id = prefix + '-description-error';
    li.querySelector('.item-form-name-label').htmlFor = nameInput.id;
    li.querySelector('.item-form-description-label').htmlFor = descInput.id;
    nameInput.setAttribute('aria-describedby', nameError.id);
    descInput.setAttribute('aria-describedby', descError.id);
    const editButton = li.querySelector('.item-edit');

    function closeForm() {
      form.hidden = true;
      view.hidden = false;
      setFieldError(nameInput, nameError, '');
      setFieldError(descInput, descError, '');
    }

    editButton.addEventListener('click', () => {
      const { data } = items.get(key);
      nameInput.value = text(data.name);
      descInput.value = text(data.description);
      view.hidden = true;
      form.hidden = false;
      nameInput.focus();
    });

    li.querySelector('.item-cancel').addEventListener('click', () => {
      closeForm();
      editButton.focus();
    });

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearMessages();
      const entry = items.get(key);
      const name = nameInput.value;
      const description = descInput.value;
      const ok = checkFields([
        [nameInput, nameError, nameProblem(name)],
        [descInput, descError, descriptionProblem(description)],
      ]);
      if (!ok) return;
      // Only changed fields are sent: the API treats PUT as a partial update, and a cleared description
      // is sent as null, which removes it.
      const changes = {};
      if (name !== text(entry.data.name)) changes.name = name;
      if (description !== text(entry.data.description)) changes.description = description === '' ? null : description;
      if (Object.keys(changes).length === 0) {
        closeForm();
        editButton.focus();
        return;
      }
      const mine = generation;
      setBusy(form, true);
      try {
        const { data } = await request('PUT', '/items/' + encodeURIComponent(key), { json: changes, auth: true });
        if (mine !== generation) return;
        upsertItem(isItem(data) ? data : Object.assign({}, entry.data, changes));
        closeForm();
        editButton.focus();
        showStatus('Saved "' + text(items.get(key).data.name) + '".');
      } catch (err) {
        if (mine !== generation) return;
        if (err instanceof ApiError && err.status === 404) {
          removeItem(key);
          showAlert(err.detail, []);
          ui.itemsHeading.focus();
        } else {
          handleAuthError(err);
        }
      } finally {
        setBusy(form, false);
      }
    });

    li.querySelector('.item-delete').addEventListener('click', async (event) => {
      const button = event.currentTarget;
      const name = text(items.get(key).data.name);
      if (!(await askConfirm('Delete "' + name + '"? This cannot be undone.', 'Delete'))) return;
      clearMessages();
      const mine = generation;
      button.disabled = true;
      try {
        await request('DELETE', '/items/' + encodeURIComponent(key), { auth: true });
        if (mine !== generation) return;
        removeItem(key);
        showStatus('Deleted "' + name + '".');
        ui.itemsHeading.focus();
      } catch (err) {
        if (mine === generation) handleAuthError(err);
      } finally {
        button.disabled = false;
      }
    });

    return li;
  }

  async function onCreate(event) {
    event.preventDefault();
    clearMessages();
    const name = ui.createName.value;
    const description = ui.createDescription.value;
    const ok = checkFields([
      [ui.createName, byId('create-name-error'), nameProblem(name)],
      [ui.createDescription, byId('create-description-error'), descriptionProblem(description)],
    ]);
    if (!ok) return;
    const body = { name };
    if (description !== '') body.description = description;
    const mine = generation;
    setBusy(ui.createForm, true);
    try {
      const { data } = await request('POST', '/items/', { json: body, auth: true });
      if (mine !== generation) return;
      const isNew = isItem(data) && !items.has(String(data.id));
      upsertItem(data);
      if (isNew && totalCount !== null) totalCount += 1;
      updateCount();
      ui.createForm.reset();
      showStatus('Added "' + name + '".');
    } catch (err) {
      if (mine === generation) handleAuthError(err);
    } finally {
      setBusy(ui.createForm, false);
      if (!ui.items.hidden) ui.createName.focus();
    }
  }

  ui.loginForm.addEventListener('submit', onLogin);
  ui.registerForm.addEventListener('submit', onRegister);
  ui.createForm.addEventListener('submit', onCreate);
  ui.logout.addEventListener('click', onLogout);
  ui.loadMore.addEventListener('click', () => {
    clearMessages();
    loadItems(false);
  });
  ui.sessionsReload.addEventListener('click', () => {
    clearMessages();
    loadSessions();
  });
  ui.signOutEverywhere.addEventListener('click', onSignOutEverywhere);
  ui.passwordForm.addEventListener('submit', onPasswordChange);
  ui.deleteForm.addEventListener('submit', onDeleteAccount);
  if (channel !== null) {
    channel.addEventListener('message', (event) => {
      if (event.data === 'signed-out' && signedIn()) {
        showSignedOut();
        clearAlert();
        showStatus('You were logged out in another tab.');
      } else if (event.data === 'signed-in' && !signedIn()) {
        clearMessages();
        restore();
      }
    });
  }

  restore();
})();
