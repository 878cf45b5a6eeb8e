// Shows the page's times in the reader's own time zone. The HTML carries
// each time in the page's zone, with its instant in the datetime
// attribute; this replaces the text and keeps the original as the title.
// Without JavaScript the page's zone stays, named in the text. A file, not
// an inline script, so the page's Content-Security-Policy needs no hash.
(function () {
  "use strict";
  if (!window.Intl || !Intl.DateTimeFormat || !document.querySelectorAll) return;
  var fmt;
  try {
    fmt = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short"
    });
  } catch (e) { return; }
  function localise() {
    var els = document.querySelectorAll("time[datetime]:not([data-local])");
    for (var i = 0; i < els.length; i++) {
      var el = els[i], d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) continue;
      el.title = el.textContent;
      el.textContent = fmt.format(d);
      el.setAttribute("data-local", "");
    }
  }
  localise();
  // The live update swaps <main> for a fresh copy in the page's zone.
  if (window.MutationObserver) {
    new MutationObserver(localise).observe(document.body, {childList: true, subtree: true});
  }
})();
