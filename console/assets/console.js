// herald console: the live parts. Without this file every page still
// works; with it, a page that has data-live listens to the console's
// event stream and, on a change, re-reads itself and swaps the elements
// marked data-live-part (never one holding the focus, so nobody loses
// what they are typing). No inline script: the CSP forbids it.
(function () {
  "use strict";
  var body = document.body;

  // Selects marked data-autosubmit submit their form on change.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  document.querySelectorAll(".js-hide").forEach(function (e) { e.hidden = true; });

  // A part that shows offers an agent may be reading out to a customer
  // (data-shown: the offers and their amounts) is not swapped when they
  // change: the agent would say one amount and click a button for
  // another. It stays as read, and its notice says the offer changed
  // (a grant of what it shows is then refused with what is in force);
  // the notice's button shows the new offer. held keeps the newest fresh
  // part for that button. A part is held only while the offers differ
  // from what it shows: a refresh that brings back exactly those (a
  // decision amended and amended back) takes the notice away and updates
  // the part as any other, since what the agent read out is in force
  // again.
  var held = {};
  function put(el, fresh) {
    el.innerHTML = fresh.innerHTML;
    if (fresh.hasAttribute("data-shown")) el.dataset.shown = fresh.dataset.shown;
    delete held[el.id];
  }
  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var changed = 0;
    document.querySelectorAll("[data-live-part][id]").forEach(function (el) {
      var fresh = doc.getElementById(el.id);
      if (!fresh || el.contains(document.activeElement)) return;
      if (el.innerHTML === fresh.innerHTML) return;
      var note = el.querySelector("[data-offer-changed]");
      if (note && el.dataset.shown && fresh.dataset.shown !== el.dataset.shown) {
        held[el.id] = fresh;
        if (note.hidden) {
          note.hidden = false;
          body.dataset.offerHeld = String(Number(body.dataset.offerHeld || 0) + 1);
          changed++;
        }
        return;
      }
      put(el, fresh);
      changed++;
    });
    return changed;
  }
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest("[data-offer-show]");
    var el = b && b.closest("[data-live-part][id]");
    if (el && held[el.id]) put(el, held[el.id]);
  });

  var timer = null, busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: "same-origin", headers: { "X-Console-Live": "1" } })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (html && swap(html) > 0) {
          var st = document.getElementById("live-status");
          if (st) st.textContent = st.dataset.word || "Updated";
          body.dataset.refreshed = String(Number(body.dataset.refreshed || 0) + 1);
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; schedule(); }
      });
  }
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }

  // A form that undoes what cannot be redone asks first (delegated: the
  // live parts are redrawn with new forms).
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    if (f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) ev.preventDefault();
  });

  var live = body.dataset.live;
  if (live && window.EventSource) {
    var es = new EventSource(live);
    es.addEventListener("change", schedule);
    // A stream that reopens (a network blip, a node restarting) may have
    // missed a change meanwhile: the page re-reads itself once.
    var opened = false;
    es.addEventListener("open", function () {
      body.dataset.liveOpen = "1";
      if (opened) schedule();
      opened = true;
    });
  }

  // The call form's customer search: results as the agent types.
  document.querySelectorAll("input[data-search]").forEach(function (input) {
    var target = document.querySelector(input.dataset.search);
    var t = null;
    input.addEventListener("input", function () {
      clearTimeout(t);
      t = setTimeout(function () {
        var u = new URL(input.form.action, location.href);
        u.searchParams.set("q", input.value);
        fetch(u, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById(target.id);
          if (fresh) target.innerHTML = fresh.innerHTML;
        }).catch(function () {});
      }, 250);
    });
  });
})();
