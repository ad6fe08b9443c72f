// Fortress web UI: register, log in, and manage your items through the JSON API.
//
// Security rules this file keeps (ui_test.go checks the mechanical ones):
// - The access token lives only in a variable of this closure. It is never written to web storage or to a
//   cookie, so other scripts and other tabs cannot read it and a reload or "Log out" forgets it.
// - Text from users or the server is only ever placed with textContent, attribute setters or form values;
//   markup is never built from strings, so an item named "<img onerror=...>" stays plain text.
// - Requests go to this origin only; a "next page" link pointing anywhere else is ignored, so the bearer
//   token cannot be sent to another site.
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
  // session changes on every login and logout, so that a response arriving after the user logged out (or
  // in as someone else) is dropped instead of showing the previous user's items.
  let session = 0;
  let nextPage = null;
  let totalCount = null;
  // items maps an item id (as a string) to {data, li}: the last known item and its list entry.
  const items = new Map();

  const byId = (id) => document.getElementById(id);
  const ui = {
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

  // request sends one API call and resolves to {status, headers, data}, or rejects with an ApiError.
  async function request(method, url, { json, form, auth } = {}) {
    const headers = { Accept: 'application/json' };
    let body;
    if (json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    if (auth) {
      if (accessToken === null) throw new ApiError(401, 'Not authenticated', []);
      headers.Authorization = 'Bearer ' + accessToken;
    }
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

  // Session ---------------------------------------------------------------------------------------------

  function showSignedIn() {
    ui.sessionEmail.textContent = sessionEmail;
    ui.session.hidden = false;
    ui.auth.hidden = true;
    ui.items.hidden = false;
  }

  function showSignedOut() {
    accessToken = null;
    sessionEmail = '';
    session += 1;
    resetItems();
    ui.sessionEmail.textContent = '';
    ui.session.hidden = true;
    ui.items.hidden = true;
    ui.auth.hidden = false;
    ui.createForm.reset();
  }

  function logout() {
    showSignedOut();
    clearAlert();
    showStatus('You have logged out.');
    ui.loginEmail.focus();
  }

  // sessionEnded handles a 401 from an items call: the token is expired, revoked or otherwise refused,
  // so it is dropped and the user is asked to log in again.
  function sessionEnded(err) {
    const email = sessionEmail;
    showSignedOut();
    showStatus('');
    showAlert('Your session has ended (' + err.detail + '). Please log in again.', []);
    ui.loginEmail.value = email;
    ui.loginPassword.focus();
  }

  // handleItemsError routes a failed items call: a 401 ends the session, anything else is shown.
  function handleItemsError(err) {
    if (err instanceof ApiError && err.status === 401) {
      sessionEnded(err);
    } else {
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
      const { data } = await request('POST', '/auth/login', { form: { username: email, password } });
      if (!data || typeof data.access_token !== 'string' || data.access_token === '') {
        throw new ApiError(500, 'The server sent an unexpected answer to the login.', []);
      }
      accessToken = data.access_token;
      sessionEmail = email;
      session += 1;
      ui.loginPassword.value = '';
      showSignedIn();
      showStatus('');
      ui.itemsHeading.focus();
      await loadItems(true);
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
    const n = charCount(password);
    let passwordProblem = '';
    if (n < PASSWORD_MIN) passwordProblem = 'Use at least ' + PASSWORD_MIN + ' characters (this has ' + n + ').';
    if (n > PASSWORD_MAX) passwordProblem = 'Use at most ' + PASSWORD_MAX + ' characters (this has ' + n + ').';
    const ok = checkFields([
      [ui.registerEmail, byId('register-email-error'), emailProblem(email)],
      [ui.registerPassword, byId('register-password-error'), passwordProblem],
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
    const mine = session;
    const url = reset ? '/items/' : nextPage;
    if (url === null) return;
    ui.list.setAttribute('aria-busy', 'true');
    ui.loadMore.disabled = true;
    try {
      const { headers, data } = await request('GET', url, { auth: true });
      if (mine !== session) return;
      if (!Array.isArray(data)) throw new ApiError(500, 'The server sent an unexpected list of items.', []);
      if (reset) resetItems();
      for (const item of data) upsertItem(item);
      const total = headers.get('X-Total-Count');
      totalCount = total !== null && /^\d+$/.test(total.trim()) ? Number(total.trim()) : null;
      nextPage = nextLink(headers.get('Link'));
      updateCount();
    } catch (err) {
      if (mine === session) handleItemsError(err);
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
      const mine = session;
      setBusy(form, true);
      try {
        const { data } = await request('PUT', '/items/' + encodeURIComponent(key), { json: changes, auth: true });
        if (mine !== session) return;
        upsertItem(isItem(data) ? data : Object.assign({}, entry.data, changes));
        closeForm();
        editButton.focus();
        showStatus('Saved "' + text(items.get(key).data.name) + '".');
      } catch (err) {
        if (mine !== session) return;
        if (err instanceof ApiError && err.status === 404) {
          removeItem(key);
          showAlert(err.detail, []);
          ui.itemsHeading.focus();
        } else {
          handleItemsError(err);
        }
      } finally {
        setBusy(form, false);
      }
    });

    li.querySelector('.item-delete').addEventListener('click', async (event) => {
      const button = event.currentTarget;
      const name = text(items.get(key).data.name);
      if (!window.confirm('Delete "' + name + '"? This cannot be undone.')) return;
      clearMessages();
      const mine = session;
      button.disabled = true;
      try {
        await request('DELETE', '/items/' + encodeURIComponent(key), { auth: true });
        if (mine !== session) return;
        removeItem(key);
        showStatus('Deleted "' + name + '".');
        ui.itemsHeading.focus();
      } catch (err) {
        if (mine === session) handleItemsError(err);
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
    const mine = session;
    setBusy(ui.createForm, true);
    try {
      const { data } = await request('POST', '/items/', { json: body, auth: true });
      if (mine !== session) return;
      const isNew = isItem(data) && !items.has(String(data.id));
      upsertItem(data);
      if (isNew && totalCount !== null) totalCount += 1;
      updateCount();
      ui.createForm.reset();
      showStatus('Added "' + name + '".');
    } catch (err) {
      if (mine === session) handleItemsError(err);
    } finally {
      setBusy(ui.createForm, false);
      if (!ui.items.hidden) ui.createName.focus();
    }
  }

  ui.loginForm.addEventListener('submit', onLogin);
  ui.registerForm.addEventListener('submit', onRegister);
  ui.createForm.addEventListener('submit', onCreate);
  ui.logout.addEventListener('click', logout);
  ui.loadMore.addEventListener('click', () => {
    clearMessages();
    loadItems(false);
  });
})();
