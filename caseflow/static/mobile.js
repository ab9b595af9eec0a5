// Field clue page (/m/): submissions wait in IndexedDB until the network is there, then go
// out once each — the Idempotency-Key made at submission travels with every retry.
(function () {
  "use strict";
  var M = document.body.dataset;
  var DB_NAME = "caseflow-field", STORE = "outbox";
  var editing = null;  // a refused item being corrected
  var busy = false;

  function openDb() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: "key" }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function withStore(mode, fn) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode), req = fn(t.objectStore(STORE));
        t.oncomplete = function () { resolve(req ? req.result : undefined); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function save(item) { return withStore("readwrite", function (s) { return s.put(item); }); }
  function remove(key) { return withStore("readwrite", function (s) { return s.delete(key); }); }
  function items() {
    return withStore("readonly", function (s) { return s.getAll(); }).then(function (all) {
      return (all || []).filter(function (i) { return i.user === M.user; })
        .sort(function (a, b) { return b.created - a.created; });
    });
  }

  function hex(buf) {
    return Array.from(new Uint8Array(buf)).map(function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function isoWithOffset(d) {
    function pad(n) { return String(Math.abs(n)).padStart(2, "0"); }
    var off = -d.getTimezoneOffset();
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) +
      (off >= 0 ? "+" : "-") + pad(Math.floor(Math.abs(off) / 60)) + ":" + pad(Math.abs(off) % 60);
  }
  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return hex(crypto.getRandomValues(new Uint8Array(16)));
  }

  // ---------------------------------------------------------------- the form
  var form = document.getElementById("clue-form");
  function fieldError(name, text) {
    var input = form.querySelector("[name=" + name + "]");
    var id = name + "-error", p = document.getElementById(id);
    if (!text) { if (p) p.remove(); if (input) input.removeAttribute("aria-invalid"); return; }
    if (!p) { p = document.createElement("p"); p.className = "error"; p.id = id; p.setAttribute("role", "alert"); }
    p.textContent = text;
    if (input) {
      input.closest(".field").appendChild(p);
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", id);
    } else {
      var general = document.getElementById("form-error");
      general.hidden = false; general.textContent = text;
    }
  }
  function clearErrors() {
    form.querySelectorAll("p.error[id$='-error']").forEach(function (p) { if (p.id !== "form-error") p.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    document.getElementById("form-error").hidden = true;
  }
  var FIELD_OF = { "parties-0-name": "party_name", "parties-0-credit_code": "party_code" };
  function showServerErrors(errors) {
    Object.keys(errors || {}).forEach(function (path) {
      var name = FIELD_OF[path.replace(/\./g, "-")] || path.split(".")[0];
      fieldError(form.querySelector("[name=" + name + "]") ? name : "__root__", errors[path]);
    });
  }
  function payloadFromForm() {
    var v = function (n) { return (form.elements[n].value || "").trim(); };
    var p = { title: v("title"), channel: v("channel"), ip_type: v("ip_type"),
              received_at: v("received_at"), location: v("location"), description: v("description"),
              parties: [] };
    if (v("party_name") || v("party_code")) {
      p.parties.push({ kind: "business", name: v("party_name"), credit_code: v("party_code") || null });
    }
    return p;
  }
  function fillForm(p) {
    ["title", "channel", "ip_type", "received_at", "location", "description"].forEach(function (n) {
      form.elements[n].value = p[n] || "";
    });
    var party = (p.parties || [])[0] || {};
    form.elements.party_name.value = party.name || "";
    form.elements.party_code.value = party.credit_code || "";
  }

  function photosOf(files) {
    return Promise.all(Array.from(files || []).map(function (f) {
      return f.arrayBuffer().then(function (buf) {
        return crypto.subtle.digest("SHA-256", buf).then(function (d) {
          return { name: f.name, type: f.type, blob: new Blob([buf], { type: f.type }),
                   sha256: hex(d), captured_at: isoWithOffset(new Date(f.lastModified || Date.now())) };
        });
      });
    }));
  }

  if (form) form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    clearErrors();
    var payload = payloadFromForm();
    if (payload.title.length < 2) { fieldError("title", M.msgRequired); form.elements.title.focus(); return; }
    var button = document.getElementById("submit");
    button.disabled = true;
    photosOf(form.elements.photos.files).then(function (photos) {
      var item = editing || { key: newKey(), user: M.user, created: Date.now(), photos: [], sentPhotos: 0 };
      item.payload = payload;
      item.photos = (item.photos || []).concat(photos);
      item.state = "waiting";
      item.errors = null;
      editing = null;
      return save(item);
    }).then(function () {
      form.reset();
      form.elements.received_at.value = new Date().toISOString().slice(0, 10);
      return render();
    }).then(sendAll).finally(function () { button.disabled = false; });
  });

  // inspection results (谁检查、谁录入) wait in the same outbox
  document.querySelectorAll("form.result-form").forEach(function (rf) {
    rf.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var item = { key: rf.dataset.key || newKey(), kind: "result", user: M.user, created: Date.now(),
                   url: rf.dataset.url, title: rf.dataset.title, state: "waiting",
                   payload: { result: rf.elements.result.value, note: rf.elements.note.value.trim(),
                              inspected_on: rf.elements.inspected_on.value } };
      delete rf.dataset.key;
      save(item).then(function () {
        var d = rf.closest("details"); d.open = false; d.hidden = true;
        return render();
      }).then(sendAll);
    });
  });

  // ---------------------------------------------------------------- sending
  function csrf() {
    return fetch(M.csrfUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok || (r.headers.get("Content-Type") || "").indexOf("json") < 0) throw new Error("login");
        return r.json();
      }).then(function (j) { return j.token; });
  }
  function post(url, body, key, token, json) {
    var headers = { "X-CSRFToken": token, "Idempotency-Key": key, Accept: "application/json" };
    if (json) headers["Content-Type"] = "application/json";
    return fetch(url, { method: "POST", credentials: "same-origin", headers: headers,
                        body: json ? JSON.stringify(body) : body, redirect: "error" })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (j) { return { status: r.status, body: j }; }); });
  }
  function sendResult(item, token) {
    return post(item.url, item.payload, item.key, token, true).then(function (res) {
      if (res.status === 200) { item.state = "sent"; item.failed = false; item.link = res.body.url; return; }
      if (res.status === 422 || res.status === 403 || res.status === 409) {
        item.state = "refused"; item.errors = res.body.errors || { __root__: res.body.message }; return;
      }
      item.state = "waiting"; item.failed = true;
    });
  }
  function sendOne(item, token) {
    item.state = "sending";
    if (item.kind === "result") {
      return save(item).then(render).then(function () { return sendResult(item, token); })
        .catch(function () { item.state = "waiting"; item.failed = true; })
        .then(function () { return save(item); });
    }
    return save(item).then(render).then(function () {
      if (item.caseId) return { status: 201, body: { id: item.caseId, url: item.url } };
      return post(M.clueUrl, item.payload, item.key, token, true);
    }).then(function (res) {
      if (res.status === 422) { item.state = "refused"; item.errors = res.body.errors || { __root__: res.body.message }; return; }
      if (res.status !== 201) { item.state = "waiting"; item.failed = true; return; }
      item.caseId = res.body.id; item.url = res.body.url;
      var chain = Promise.resolve();
      item.photos.forEach(function (ph, i) {
        chain = chain.then(function () {
          if (i < item.sentPhotos) return;
          var fd = new FormData();
          fd.append("file", new File([ph.blob], ph.name, { type: ph.type }));
          fd.append("sha256", ph.sha256);
          fd.append("captured_at", ph.captured_at);
          fd.append("place", item.payload.location || "");
          return post("/m/cases/" + item.caseId + "/evidence", fd, item.key + ":photo:" + i, token, false)
            .then(function (r) {
              if (r.status === 201 || r.status === 422) { item.sentPhotos = i + 1; if (r.status === 422) { item.photoErrors = (item.photoErrors || []).concat([ph.name + ": " + JSON.stringify(r.body.errors)]); } }
              else throw new Error("photo " + r.status);
            });
        });
      });
      return chain.then(function () { item.state = "sent"; item.failed = false; item.photos = item.photos.map(function (p) { return { name: p.name }; }); });
    }).catch(function () { item.state = "waiting"; item.failed = true; })
      .then(function () { return save(item); });
  }
  function sendAll() {
    if (busy || !navigator.onLine) return Promise.resolve();
    busy = true;
    return items().then(function (list) {
      var todo = list.filter(function (i) { return i.state === "waiting" || i.state === "sending"; });
      if (!todo.length) return;
      return csrf().then(function (token) {
        return todo.reduce(function (p, item) { return p.then(function () { return sendOne(item, token); }); }, Promise.resolve());
      }).catch(function () {  // no network after all, or logged out: the items wait
        return Promise.all(todo.map(function (item) { item.state = "waiting"; item.failed = true; return save(item); }));
      });
    }).finally(function () { busy = false; return render(); });
  }

  // ---------------------------------------------------------------- the list
  function render() {
    var status = document.getElementById("net-status");
    status.textContent = navigator.onLine ? M.msgOnline : M.msgOffline;
    status.className = "badge " + (navigator.onLine ? "ok" : "overdue");
    return items().then(function (list) {
      var ul = document.getElementById("queue-list");
      ul.textContent = "";
      list.forEach(function (item) {
        var li = document.createElement("li");
        li.dataset.key = item.key;
        li.dataset.state = item.state;
        var title = document.createElement("b");
        title.textContent = item.title || item.payload.title;
        li.appendChild(title);
        var state = document.createElement("span");
        state.className = "badge " + ({ waiting: "soon", sending: "running", sent: "ok", refused: "overdue" }[item.state] || "");
        state.textContent = { waiting: item.failed ? M.msgFailed : M.msgWaiting, sending: M.msgSending, sent: M.msgSent, refused: M.msgRefused }[item.state];
        li.appendChild(document.createTextNode(" "));
        li.appendChild(state);
        if (item.photos && item.photos.length) {
          var n = document.createElement("small");
          n.textContent = " " + M.msgPhotos.replace("{n}", item.photos.length);
          li.appendChild(n);
        }
        var link = item.kind === "result" ? item.link : item.url;
        if (item.state === "sent" && link) {
          var a = document.createElement("a");
          a.href = link; a.textContent = M.msgOpen; a.className = "m-open";
          li.appendChild(document.createTextNode(" ")); li.appendChild(a);
        }
        if (item.state === "refused") {
          var errs = document.createElement("ul");
          Object.keys(item.errors || {}).forEach(function (k) {
            var e = document.createElement("li"); e.className = "error"; e.textContent = item.errors[k]; errs.appendChild(e);
          });
          li.appendChild(errs);
          var fix = document.createElement("button");
          fix.type = "button"; fix.textContent = M.msgEdit; fix.className = "m-fix";
          fix.addEventListener("click", function () {
            if (item.kind === "result") {
              var rf = document.querySelector("form.result-form[data-url='" + item.url + "']");
              if (rf) {
                rf.elements.result.value = item.payload.result; rf.elements.note.value = item.payload.note;
                rf.elements.inspected_on.value = item.payload.inspected_on;
                rf.closest("details").hidden = false; rf.closest("details").open = true;
                rf.dataset.key = item.key;
              }
              remove(item.key).then(render);
              return;
            }
            editing = item; fillForm(item.payload); clearErrors(); showServerErrors(item.errors);
            remove(item.key).then(render); window.scrollTo(0, 0);
          });
          li.appendChild(fix);
        }
        ul.appendChild(li);
      });
    });
  }

  window.addEventListener("online", function () { render(); sendAll(); });
  window.addEventListener("offline", render);
  setInterval(sendAll, 15000);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register(M.sw, { scope: "/m/" }).catch(function () {});
  // what was sent is kept a day on the phone (to be seen), then removed
  items().then(function (list) {
    var dayAgo = Date.now() - 24 * 3600 * 1000;
    return Promise.all(list.filter(function (i) { return i.state === "sent" && i.created < dayAgo; })
      .map(function (i) { return remove(i.key); }));
  }).then(render).then(sendAll);
})();
