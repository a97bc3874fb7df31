// The lead form page, when shown in another site's iframe: tell the embedding script how tall it is,
// so the frame grows with the form (errors, the thank-you text) and never scrolls inside.
(function () {
  "use strict";
  if (window.parent === window) return;
  function tell() {
    var height = document.documentElement.scrollHeight;
    window.parent.postMessage({ carteraLeadHeight: height }, "*");
  }
  window.addEventListener("load", tell);
  window.addEventListener("resize", tell);
  if (window.ResizeObserver) new ResizeObserver(tell).observe(document.body);
})();
