// Small progressive enhancement: add party rows on the clue form (the form works without it).
document.addEventListener("DOMContentLoaded", function () {
  var button = document.querySelector("button.add-party");
  if (!button) return;
  button.addEventListener("click", function () {
    var rows = document.querySelectorAll("#parties .party");
    var last = rows[rows.length - 1];
    var next = rows.length;
    var copy = last.cloneNode(true);
    copy.dataset.index = next;
    copy.querySelectorAll("[name], [id], label[for]").forEach(function (el) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
        var v = el.getAttribute(attr);
        if (v) el.setAttribute(attr, v.replace(/parties-\d+-/, "parties-" + next + "-"));
      });
      if (el.tagName === "INPUT") { el.value = ""; el.removeAttribute("aria-invalid"); }
    });
    copy.querySelectorAll(".error").forEach(function (el) { el.remove(); });
    copy.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
    last.after(copy);
  });
});
