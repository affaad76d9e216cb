// Behaviour shared by every page, without inline script (the Content-Security-Policy allows none).
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
