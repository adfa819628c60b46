// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Account menu: a disclosure button. Without JS the menu opens on focus (CSS).
  document.querySelectorAll("[data-menu]").forEach(function (menu) {
    var button = menu.querySelector("[data-menu-button]");
    var items = menu.querySelector("[data-menu-items]");
    function setOpen(open) {
      menu.classList.toggle("open", open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    }
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var open = !menu.classList.contains("open");
      setOpen(open);
      if (open) { var first = items.querySelector("a, button"); if (first) first.focus(); }
    });
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { setOpen(false); button.focus(); }
    });
    document.addEventListener("click", function (event) {
      if (!menu.contains(event.target)) setOpen(false);
    });
  });
})();
