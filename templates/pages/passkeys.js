// Passkeys on the hub's hosted pages (served as /assets/passkeys.js; the pages allow no inline
// script). A button with data-passkey="create" or "get" inside a form: on click, POST the
// form's fields (with its CSRF token) to data-options, pass the options to
// navigator.credentials.create/get (base64url <-> ArrayBuffer), put the JSON result in the
// form's field data-field and submit the form. Without WebAuthn the buttons stay hidden.
(function () {
  'use strict';

  function toBuffer(b64url) {
    var b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) { b64 += '='; }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toBase64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function withBuffers(list) {
    return (list || []).map(function (c) {
      var copy = Object.assign({}, c);
      copy.id = toBuffer(c.id);
      return copy;
    });
  }

  function created(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toBase64url(r.attestationObject),
        clientDataJSON: toBase64url(r.clientDataJSON),
        transports: typeof r.getTransports === 'function' ? r.getTransports() : undefined
      },
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
  }

  function asserted(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toBase64url(r.authenticatorData),
        clientDataJSON: toBase64url(r.clientDataJSON),
        signature: toBase64url(r.signature),
        userHandle: r.userHandle ? toBase64url(r.userHandle) : null
      },
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
  }

  function run(button) {
    var form = button.form;
    var status = form.querySelector('[data-passkey-status]');
    var say = function (text) { if (status) { status.textContent = text; } };
    say('');
    button.disabled = true;
    var fields = new URLSearchParams(new FormData(form));
    fetch(button.getAttribute('data-options'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Accept': 'application/json' },
      body: fields
    }).then(function (res) {
      if (!res.ok) { throw new Error('options refused: ' + res.status); }
      return res.json();
    }).then(function (options) {
      var pk = options.publicKey;
      pk.challenge = toBuffer(pk.challenge);
      if (button.getAttribute('data-passkey') === 'create') {
        pk.user.id = toBuffer(pk.user.id);
        pk.excludeCredentials = withBuffers(pk.excludeCredentials);
        return navigator.credentials.create({ publicKey: pk }).then(created);
      }
      pk.allowCredentials = withBuffers(pk.allowCredentials);
      return navigator.credentials.get({ publicKey: pk }).then(asserted);
    }).then(function (result) {
      form.elements[button.getAttribute('data-field')].value = JSON.stringify(result);
      form.submit();
    }).catch(function () {
      button.disabled = false;
      say('The passkey could not be used. Try again, or use another way to sign in.');
    });
  }

  function start() {
    var supported = !!(window.PublicKeyCredential && navigator.credentials &&
      window.fetch && window.URLSearchParams);
    var buttons = document.querySelectorAll('button[data-passkey]');
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      if (!supported) { continue; }
      button.hidden = false;
      button.addEventListener('click', function (ev) {
        ev.preventDefault();
        run(ev.currentTarget);
      });
    }
    if (supported) {
      var notes = document.querySelectorAll('[data-passkey-unsupported]');
      for (var j = 0; j < notes.length; j++) { notes[j].hidden = true; }
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
