// Arrears UI behaviours. No inline scripts anywhere (the CSP forbids them): pages opt in with
// data-* attributes. Everything here is an enhancement; every form also works without it.
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  document.documentElement.classList.add("js");

  // Submit a form as soon as a select in it changes (organisation switcher, filters).
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el && el.matches && el.matches("[data-autosubmit]") && el.form) {
      if (el.form.requestSubmit) el.form.requestSubmit(); else el.form.submit();
    }
  });

  // Dismiss alerts.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-dismiss]");
    if (btn) { var box = btn.closest(".alert"); if (box) box.remove(); }
  });

  // Copy buttons: <button data-copy="#id">.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-copy]");
    if (!btn) return;
    var src = document.querySelector(btn.getAttribute("data-copy"));
    if (!src) return;
    var text = src.value !== undefined ? src.value : src.textContent;
    var done = function () {
      var old = btn.textContent; btn.textContent = "Copied"; btn.setAttribute("aria-live", "polite");
      setTimeout(function () { btn.textContent = old; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { src.select && src.select(); });
    } else if (src.select) {
      src.select(); try { document.execCommand("copy"); done(); } catch (err) { /* the text stays selected */ }
    }
  });

  // Confirmation dialogs: <form data-confirm="Revoke this key?">.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var msg = form.getAttribute && form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); e.stopImmediatePropagation(); }
  }, true);
  document.addEventListener("htmx:confirm", function (e) {
    var el = e.detail.elt;
    var msg = el && el.getAttribute && el.getAttribute("data-confirm");
    if (msg && el.tagName !== "FORM") {
      e.preventDefault();
      if (window.confirm(msg)) e.detail.issueRequest(true);
    }
  });

  // "Select all" checkbox for a table: <input type="checkbox" data-check-all="name">. Runs in the
  // capture phase, before htmx reads the form, so that one request carries every box's new state.
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (!el.matches || !el.matches("[data-check-all]")) return;
    var name = el.getAttribute("data-check-all");
    document.querySelectorAll('input[type=checkbox][name="' + name + '"]:not([disabled])').forEach(function (cb) {
      cb.checked = el.checked;
    });
  }, true);

  // Drag and drop onto a file input's drop zone: <div data-dropzone> containing an <input type=file>.
  function initDropzones(root) {
    (root || document).querySelectorAll("[data-dropzone]").forEach(function (zone) {
      if (zone.dataset.ready) return;
      zone.dataset.ready = "1";
      var input = zone.querySelector("input[type=file]");
      var label = zone.querySelector("[data-dropzone-label]");
      var show = function () {
        if (label && input.files.length) label.textContent = input.files[0].name + " (" + Math.round(input.files[0].size / 1024) + " KB)";
      };
      input.addEventListener("change", show);
      ["dragenter", "dragover"].forEach(function (t) {
        zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("dragging"); });
      });
      ["dragleave", "drop"].forEach(function (t) {
        zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove("dragging"); });
      });
      zone.addEventListener("drop", function (e) {
        if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
      });
    });
  }

  // Live SMS counter: <textarea data-sms-counter="#out"> (the server's count is the truth; this
  // one follows the same GSM-7 / UCS-2 rules so that typing feels immediate).
  var GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM_EXT = "\f^{}\\[~]|€";
  function countSms(text) {
    var gsm = true, i, ch;
    for (i = 0; i < text.length; i++) { ch = text[i]; if (GSM.indexOf(ch) < 0 && GSM_EXT.indexOf(ch) < 0) { gsm = false; break; } }
    var costs = [];
    if (gsm) { for (i = 0; i < text.length; i++) costs.push(GSM_EXT.indexOf(text[i]) >= 0 ? 2 : 1); }
    else { for (i = 0; i < text.length; i++) costs.push(1); } // JS strings are UTF-16 code units already
    var total = costs.reduce(function (a, b) { return a + b; }, 0);
    var single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    if (!total) return { enc: gsm ? "GSM-7" : "UCS-2", chars: 0, segments: 0, per: single, left: single };
    if (total <= single) return { enc: gsm ? "GSM-7" : "UCS-2", chars: total, segments: 1, per: single, left: single - total };
    var seg = 1, used = 0;
    costs.forEach(function (c) { if (used + c > multi) { seg++; used = 0; } used += c; });
    return { enc: gsm ? "GSM-7" : "UCS-2", chars: total, segments: seg, per: multi, left: multi - used };
  }
  function initCounters(root) {
    (root || document).querySelectorAll("[data-sms-counter]").forEach(function (ta) {
      if (ta.dataset.ready) return;
      ta.dataset.ready = "1";
      var out = document.querySelector(ta.getAttribute("data-sms-counter"));
      var update = function () {
        if (!out) return;
        var c = countSms(ta.value);
        out.textContent = c.chars + " characters · " + c.enc + " · " + c.segments + " segment" + (c.segments === 1 ? "" : "s") + " · " + c.left + " left in this segment";
      };
      ta.addEventListener("input", update);
      update();
    });
  }

  // Insert a placeholder at the cursor: <button data-insert="[CustomerName]" data-target="#f-body">.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-insert]");
    if (!btn) return;
    var ta = document.querySelector(btn.getAttribute("data-target"));
    if (!ta) return;
    var text = btn.getAttribute("data-insert");
    var start = ta.selectionStart || 0, end = ta.selectionEnd || 0;
    ta.value = ta.value.slice(0, start) + text + ta.value.slice(end);
    ta.focus();
    ta.selectionStart = ta.selectionEnd = start + text.length;
    ta.dispatchEvent(new Event("input", { bubbles: true }));
    ta.dispatchEvent(new Event("keyup", { bubbles: true }));
  });

  // Menu: close the <details> menu after following a link on a phone.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("#menu a");
    if (a) { var d = document.getElementById("menu"); if (d && window.matchMedia("(max-width: 760px)").matches) d.open = false; }
  });

  // Upload progress of an htmx multipart form: <progress class="upload-progress"> inside it.
  document.addEventListener("htmx:xhr:progress", function (e) {
    var bar = e.target.querySelector && e.target.querySelector(".upload-progress");
    if (bar && e.detail.lengthComputable) bar.value = Math.round(e.detail.loaded / e.detail.total * 100);
  });

  function init(root) { initDropzones(root); initCounters(root); }
  onReady(function () {
    init(document);
    var menu = document.getElementById("menu");
    if (menu && window.matchMedia("(min-width: 761px)").matches) menu.open = true;
  });
  document.addEventListener("htmx:load", function (e) { init(e.target); });

  // Move focus to the first field in error after an htmx swap, so keyboard users land on it.
  document.addEventListener("htmx:afterSwap", function (e) {
    var bad = e.target.querySelector && e.target.querySelector("[aria-invalid=true]");
    if (bad) bad.focus();
  });
})();
