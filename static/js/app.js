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

// Integrations console: tile search, copy buttons, tabs and the activation
// dialog. No inline script anywhere (a strict CSP forbids it), so behaviour
// hangs off data-* attributes; every feature has a working no-JS fallback.
(function () {
  "use strict";

  // --- Filter integration tiles as you type (the form still submits ?q=). ---
  document.querySelectorAll("[data-tile-search]").forEach(function (form) {
    var input = form.querySelector("input[type=search]");
    var tiles = Array.prototype.slice.call(document.querySelectorAll("[data-tiles] > [data-search]"));
    var empty = document.querySelector("[data-tiles-empty]");
    var count = document.querySelector("[data-tile-count]");
    function filter() {
      var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      tiles.forEach(function (tile) {
        var text = tile.getAttribute("data-search");
        var match = terms.every(function (term) { return text.indexOf(term) !== -1; });
        tile.hidden = !match;
        if (match) shown += 1;
      });
      if (empty) empty.hidden = shown !== 0;
      if (count) {
        count.textContent = terms.length ? shown + " of " + tiles.length + " integrations match \u201c" + input.value.trim() + "\u201d." : "";
      }
      var url = new URL(window.location.href);
      if (terms.length) { url.searchParams.set("q", input.value.trim()); } else { url.searchParams.delete("q"); }
      window.history.replaceState(null, "", url.toString());
    }
    input.addEventListener("input", filter);
  });

  // --- Copy buttons: <button data-copy="field-id" hidden> next to a read-only field. ---
  function copyText(field) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(field.value);
    }
    field.select();
    return document.execCommand("copy") ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }
  function enhanceCopy(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      var field = document.getElementById(button.getAttribute("data-copy"));
      if (!field || button.dataset.enhanced) return;
      button.dataset.enhanced = "1";
      button.hidden = false;
      var status = document.createElement("span");
      status.className = "copy-status";
      status.setAttribute("role", "status");
      button.insertAdjacentElement("afterend", status);
      field.addEventListener("focus", function () { field.select(); });
      button.addEventListener("click", function () {
        copyText(field).then(function () {
          status.textContent = "Copied";
        }, function () {
          field.select();
          status.textContent = "Press Ctrl+C (\u2318C) to copy";
        });
        window.setTimeout(function () { status.textContent = ""; }, 4000);
      });
    });
  }

  // --- Tabs (WAI-ARIA tabs pattern): arrow keys, Home and End move between tabs. ---
  function enhanceTabs(root) {
    root.querySelectorAll("[data-tabs]").forEach(function (container) {
      if (container.dataset.enhanced) return;
      container.dataset.enhanced = "1";
      var tabs = Array.prototype.slice.call(container.querySelectorAll("[role=tab]"));
      function select(tab, focus) {
        tabs.forEach(function (other) {
          var selected = other === tab;
          other.setAttribute("aria-selected", selected ? "true" : "false");
          other.tabIndex = selected ? 0 : -1;
          var panel = container.querySelector("#" + other.getAttribute("aria-controls"));
          if (panel) panel.hidden = !selected;
        });
        if (focus) tab.focus();
      }
      tabs.forEach(function (tab, index) {
        tab.addEventListener("click", function (event) { event.preventDefault(); select(tab, false); });
        tab.addEventListener("keydown", function (event) {
          var next = null;
          if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
          else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
          else if (event.key === "Home") next = tabs[0];
          else if (event.key === "End") next = tabs[tabs.length - 1];
          if (next) { event.preventDefault(); select(next, true); }
        });
      });
      var initial = tabs.filter(function (t) { return t.getAttribute("aria-selected") === "true"; })[0] || tabs[0];
      if (initial) select(initial, false);
    });
  }

  function enhance(root) { enhanceCopy(root); enhanceTabs(root); }
  enhance(document);

  // --- Activation dialog: the Activate page, shown in a modal <dialog>. ---
  // The page itself works without JS; here we fetch it and show its
  // [data-dialog-content] in a native modal dialog (focus is trapped and the
  // page behind is inert; Escape closes it).
  function openDialog(url, opener) {
    window.fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) throw new Error("not a dialog");
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var content = doc.querySelector("[data-dialog-content]");
        if (!content) throw new Error("not a dialog");
        var dialog = document.createElement("dialog");
        dialog.className = "modal";
        var title = content.getAttribute("aria-labelledby");
        if (title) dialog.setAttribute("aria-labelledby", title);
        content.removeAttribute("aria-labelledby");
        dialog.appendChild(document.importNode(content, true));
        document.body.appendChild(dialog);
        enhance(dialog);
        dialog.querySelectorAll("[data-dialog-close]").forEach(function (closer) {
          closer.addEventListener("click", function (event) { event.preventDefault(); dialog.close(); });
        });
        dialog.addEventListener("close", function () {
          dialog.remove();
          if (opener) opener.focus();
        });
        dialog.showModal();
        var heading = title && dialog.querySelector("#" + title);
        if (heading) { heading.tabIndex = -1; heading.focus(); }
      })
      .catch(function () { window.location.assign(url); });
  }
  document.querySelectorAll("form[data-opens-dialog]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (typeof HTMLDialogElement !== "function") return; // old browser: plain page
      event.preventDefault();
      openDialog(form.action, form.querySelector("button"));
    });
  });
})();
