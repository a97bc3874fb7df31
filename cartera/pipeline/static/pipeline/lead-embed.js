// Cartera lead form, for any website:
//   <script src="https://cartera.example/static/pipeline/lead-embed.js"
//           data-cartera-form="https://cartera.example/pipeline/f/<form>/" data-lang="es" defer></script>
// It puts the form in an iframe right after this tag, passing the page's address and its UTM
// parameters (utm_source, utm_medium, utm_campaign, utm_term, utm_content), and lets the frame take
// the form's height. No inline code is needed on the page (it works under a strict CSP that allows
// this script's origin in script-src and frame-src).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var address = script.getAttribute("data-cartera-form");
  if (!address) return;
  var target = new URL(address, script.src);
  var here = new URL(window.location.href);
  ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"].forEach(function (key) {
    var value = here.searchParams.get(key);
    if (value) target.searchParams.set(key, value);
  });
  target.searchParams.set("page_url", here.origin + here.pathname);
  var lang = script.getAttribute("data-lang");
  if (lang) target.searchParams.set("lang", lang);
  var frame = document.createElement("iframe");
  frame.src = target.toString();
  frame.title = script.getAttribute("data-title") || "Formulario";
  frame.setAttribute("loading", "lazy");
  frame.style.width = "100%";
  frame.style.border = "0";
  frame.style.height = "640px";
  script.parentNode.insertBefore(frame, script.nextSibling);
  window.addEventListener("message", function (event) {
    if (event.origin !== target.origin || event.source !== frame.contentWindow) return;
    var height = event.data && event.data.carteraLeadHeight;
    if (typeof height === "number" && height > 0) frame.style.height = Math.ceil(height) + 16 + "px";
  });
})();
