// Small progressive enhancement: add party and goods rows on the clue form (the form works
// without it).
document.addEventListener("DOMContentLoaded", function () {
  addRows("button.add-party", "#parties .party", "parties");
  addRows("button.add-goods", "#goods .goods-row", "goods");
});

function addRows(buttonSelector, rowSelector, prefix) {
  var button = document.querySelector(buttonSelector);
  if (!button) return;
  var pattern = new RegExp(prefix + "-\\d+-");
  button.addEventListener("click", function () {
    var rows = document.querySelectorAll(rowSelector);
    var last = rows[rows.length - 1];
    var next = rows.length;
    var copy = last.cloneNode(true);
    copy.dataset.index = next;
    copy.querySelectorAll("[name], [id], label[for]").forEach(function (el) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
        var v = el.getAttribute(attr);
        if (v) el.setAttribute(attr, v.replace(pattern, prefix + "-" + next + "-"));
      });
      if (el.tagName === "INPUT") { el.value = ""; el.removeAttribute("aria-invalid"); }
    });
    copy.querySelectorAll(".error").forEach(function (el) { el.remove(); });
    copy.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
    last.after(copy);
  });
}

// Evidence: compute the file's SHA-256 on this device when it is chosen (checked again on
// arrival) and take the capture time from the file, with the device's time-zone offset.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input[type=file][data-hash-into]").forEach(function (input) {
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      var form = input.form;
      if (!file || !form) return;
      var timeField = form.querySelector("[name=" + input.dataset.timeInto + "]");
      if (timeField && !timeField.value) timeField.value = isoWithOffset(new Date(file.lastModified || Date.now()));
      if (!(window.crypto && crypto.subtle)) return;  // then the officer types it in
      file.arrayBuffer().then(function (buf) { return crypto.subtle.digest("SHA-256", buf); })
        .then(function (digest) {
          var hex = Array.from(new Uint8Array(digest)).map(function (b) {
            return b.toString(16).padStart(2, "0"); }).join("");
          form.querySelector("[name=" + input.dataset.hashInto + "]").value = hex;
        });
    });
  });
});

function isoWithOffset(d) {
  function pad(n) { return String(Math.abs(n)).padStart(2, "0"); }
  var off = -d.getTimezoneOffset();
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
    pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) +
    (off >= 0 ? "+" : "-") + pad(Math.floor(Math.abs(off) / 60)) + ":" + pad(Math.abs(off) % 60);
}

// Logged out (the login page): the field page's offline copy and what was already sent are
// removed from this device, so the next person holding the phone sees nothing of the last
// user's. Submissions still waiting stay (they are sent when their author logs in again and
// are never shown to anyone else).
document.addEventListener("DOMContentLoaded", function () {
  if (!document.getElementById("login-form")) return;
  if (window.caches) {
    caches.keys().then(function (keys) {
      keys.filter(function (k) { return k.indexOf("caseflow-m") === 0; })
        .forEach(function (k) { caches.delete(k); });
    });
  }
  if (!window.indexedDB) return;
  var req = indexedDB.open("caseflow-field", 1);
  req.onupgradeneeded = function () { req.result.createObjectStore("outbox", { keyPath: "key" }); };
  req.onsuccess = function () {
    var store = req.result.transaction("outbox", "readwrite").objectStore("outbox");
    store.openCursor().onsuccess = function (ev) {
      var cursor = ev.target.result;
      if (!cursor) return;
      if (cursor.value.state === "sent") cursor.delete();
      cursor.continue();
    };
  };
});
