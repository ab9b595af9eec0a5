// Service worker of the field page (/m/): the page and its assets stay available offline.
// It caches only the page (with the user's own inspections to do, as last shown) and static
// files — never a case or a submission (those wait in the page's IndexedDB outbox).
var CACHE = "caseflow-m-v1";
var SHELL = ["/m/", "/static/app.css", "/static/mobile.css", "/static/mobile.js"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(SHELL); }).then(function () { return self.skipWaiting(); }));
});
self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});
self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") return;  // submissions go to the network (the page queues them)
  var url = new URL(req.url);
  if (url.origin !== location.origin || SHELL.indexOf(url.pathname) < 0) return;
  event.respondWith(fetch(req).then(function (resp) {
    if (resp.ok && !resp.redirected) {
      var copy = resp.clone();
      caches.open(CACHE).then(function (c) { c.put(req, copy); });
    }
    return resp;
  }).catch(function () { return caches.match(req); }));
});
