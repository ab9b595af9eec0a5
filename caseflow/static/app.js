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
