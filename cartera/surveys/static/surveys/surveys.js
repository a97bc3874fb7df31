// Audits filled on a phone: every change is kept on the phone until the server has it. If a save
// fails (no signal), the answers come back when the page is opened again; once the server holds a
// newer save than the draft was based on, the draft is dropped. Print buttons call window.print().
(function () {
  "use strict";
  function serialise(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "csrfmiddlewaretoken" || el.type === "submit") return;
      if (el.type === "radio" || el.type === "checkbox") { if (el.checked) data[el.name] = el.value; else if (!(el.name in data)) data[el.name] = null; }
      else data[el.name] = el.value;
    });
    return data;
  }
  function restore(form, data) {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !(el.name in data)) return;
      if (el.type === "radio") el.checked = data[el.name] === el.value;
      else if (el.type === "checkbox") el.checked = data[el.name] === el.value;
      else if (el.type !== "submit" && el.type !== "hidden") el.value = data[el.name];
    });
  }
  function setUp(form) {
    var key = "cartera-draft:" + form.dataset.draftKey;
    var version = form.dataset.draftVersion;
    var stored = null;
    try { stored = JSON.parse(window.localStorage.getItem(key) || "null"); } catch (e) { stored = null; }
    if (stored && stored.version === version && stored.data) {
      restore(form, stored.data);
      var note = form.querySelector(".draft-note");
      if (note) note.hidden = false;
    } else if (stored) {
      window.localStorage.removeItem(key);
    }
    function keep() {
      try { window.localStorage.setItem(key, JSON.stringify({ version: version, data: serialise(form) })); } catch (e) { /* storage full or off */ }
    }
    form.addEventListener("input", keep);
    form.addEventListener("change", keep);
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-draft-key]"), setUp);
    Array.prototype.forEach.call(document.querySelectorAll("button.print-page"), function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  });
})();
