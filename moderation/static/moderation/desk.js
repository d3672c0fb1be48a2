/* The moderator's desk: decide from the queue or a comment's page with one click or one key.
 *
 * Queue (body.moderato-queue): each row's buttons post its form with fetch and the row is updated in
 * place, so the queue keeps its filters, page and scroll; J/K move a visible focus between rows.
 * Comment page (body.moderato-page): the keys press the page's buttons, an ordinary form post.
 * Replies as the site (Y), from a row or the page, are posted with fetch too, so that a refused reply
 * keeps its text in the box.
 * Without this script every button still works: the form posts and the server redirects back.
 * Text from the server is only ever set with textContent.
 */
(function () {
  "use strict";

  var KEYS = { a: "approve", r: "reject", s: "spam" };
  var queue = document.body.classList.contains("moderato-queue");
  var rows = [];
  var current = -1;

  function help() {
    return document.getElementById("moderato-help");
  }

  function rowPanel(index) {
    return rows[index] ? rows[index].querySelector(".moderato-decide") : document.querySelector(".moderato-panel");
  }

  function panelForm(panel) {
    return panel ? document.getElementById(panel.getAttribute("data-form")) : null;
  }

  function select(index, focus) {
    if (!rows.length) return;
    index = Math.max(0, Math.min(rows.length - 1, index));
    if (rows[current]) rows[current].classList.remove("moderato-current");
    current = index;
    var row = rows[current];
    row.classList.add("moderato-current");
    if (focus) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function nextUndecided(from) {
    for (var i = from + 1; i < rows.length; i++) {
      if (!rows[i].classList.contains("moderato-decided")) return i;
    }
    return Math.min(from + 1, rows.length - 1);
  }

  function show(panel, text, failed) {
    var out = panel.querySelector(".moderato-result");
    if (!out) return;
    out.textContent = text;
    out.classList.toggle("moderato-error", !!failed);
  }

  function decided(row, form, answer) {
    form.elements.status.value = answer.status;
    var replyForm = document.getElementById(form.id.replace("decide-form-", "reply-form-"));
    if (replyForm) replyForm.elements.status.value = answer.status;
    if (!row) return;
    var cell = row.querySelector(".moderato-status");
    if (cell) cell.textContent = answer.status_label;
    row.classList.remove("moderato-held", "moderato-published", "moderato-rejected");
    row.classList.add("moderato-" + answer.status);
  }

  function send(form, action) {
    var panel = document.getElementById(form.id.replace("decide-form-", "decide-"));
    var row = panel.closest("tr");
    if (row.getAttribute("aria-busy") === "true") return;
    var body = new FormData(form);
    body.set("action", action);
    row.setAttribute("aria-busy", "true");
    show(panel, "Deciding\u2026", false);
    // Not form.action: the buttons named "action" shadow that property.
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") === -1) throw new Error("HTTP " + response.status);
        return response.json().then(function (answer) {
          decided(row, form, answer);
          if (!response.ok) {
            show(panel, answer.error, true);
            return;
          }
          row.classList.add("moderato-decided");
          var note = panel.querySelector(".moderato-note");
          if (note) note.value = "";
          show(panel, answer.message, false);
        });
      })
      .catch(function (error) {
        show(panel, "Not decided (" + error.message + "): reload to see the comment as it is now.", true);
      })
      .finally(function () {
        row.removeAttribute("aria-busy");
      });
  }

  function replyBox() {
    var panel = rowPanel(current);
    if (!panel) return null;
    return queue ? panel.querySelector(".moderato-reply") : document.querySelector("form.moderato-reply");
  }

  function replyOpen() {
    var box = replyBox();
    if (!box) return;
    if (box.tagName === "DETAILS") box.open = true;
    var field = box.querySelector(".moderato-reply-body");
    if (field) field.focus();
  }

  // A reply as the site: the answer goes where the moderator looks (the row's result, or under the
  // page's reply box); the comment's status follows when the reply approved it too.
  function sendReply(form) {
    var id = form.id.replace("reply-form-", "");
    var decideForm = document.getElementById("decide-form-" + id);
    var row = queue ? document.getElementById("decide-" + id).closest("tr") : null;
    var panel = queue ? document.getElementById("decide-" + id) : form;
    var busy = row || form;
    if (busy.getAttribute("aria-busy") === "true") return;
    var body = new FormData(form);
    busy.setAttribute("aria-busy", "true");
    show(panel, "Replying\u2026", false);
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") === -1) throw new Error("HTTP " + response.status);
        return response.json().then(function (answer) {
          if (decideForm) decided(row, decideForm, answer);
          if (!queue) {
            var heading = document.getElementById("decide-" + id);
            if (heading) heading.textContent = "Decide: this comment is " + answer.status_label.toLowerCase();
          }
          if (!response.ok) {
            show(panel, answer.error, true);
            return;
          }
          var text = panel.querySelector(".moderato-reply-body") || form.querySelector(".moderato-reply-body");
          if (text) text.value = "";
          var approve = document.querySelector('input[name="approve"][form="' + form.id + '"]') ||
            form.querySelector('input[name="approve"]');
          if (approve && answer.status === "published") approve.parentNode.remove();
          var details = panel.querySelector("details.moderato-reply");
          if (details) details.open = false;
          show(panel, answer.message, false);
        });
      })
      .catch(function (error) {
        show(panel, "Not sent (" + error.message + "): reload to see the comment as it is now.", true);
      })
      .finally(function () {
        busy.removeAttribute("aria-busy");
      });
  }

  function decide(action) {
    var panel = rowPanel(current);
    var form = panelForm(panel);
    if (!form) return;
    if (!queue) {
      var button = form.querySelector('button[value="' + action + '"]');
      if (button) button.click();
      return;
    }
    send(form, action);
    select(nextUndecided(current), true);
  }

  function note() {
    var panel = rowPanel(current);
    var field = panel && panel.querySelector(".moderato-note");
    if (field) field.focus();
  }

  function toggleHelp(open) {
    var overlay = help();
    if (!overlay) return;
    overlay.hidden = !open;
    if (open) overlay.querySelector(".moderato-help-box").focus();
    else if (rows[current]) rows[current].focus({ preventScroll: true });
  }

  function typing(target) {
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  document.addEventListener("keydown", function (event) {
    var reply = event.target.classList && event.target.classList.contains("moderato-reply-body");
    if (reply && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      var owner = event.target.form;
      if (owner) owner.requestSubmit();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var overlay = help();
    if (overlay && !overlay.hidden) {
      if (event.key === "Escape" || event.key === "?") {
        event.preventDefault();
        toggleHelp(false);
      }
      return;
    }
    var target = event.target;
    if (typing(target)) {
      var leave = event.key === "Escape" || (event.key === "Enter" && target.tagName === "INPUT");
      var field = target.classList.contains("moderato-note") || target.classList.contains("moderato-reply-body");
      if (field && leave) {
        event.preventDefault();
        target.blur();
        if (rows[current]) rows[current].focus({ preventScroll: true });
      }
      return;
    }
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key === "?") toggleHelp(true);
    else if (key === "j" && queue) select(current + 1, true);
    else if (key === "k" && queue) select(current - 1, true);
    else if (key === "n") note();
    else if (key === "y") replyOpen();
    else if (KEYS[key]) decide(KEYS[key]);
    else return;
    event.preventDefault();
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (/^reply-form-\d+$/.test(form.id)) {
      event.preventDefault();
      sendReply(form);
      return;
    }
    if (!queue || !/^decide-form-\d+$/.test(form.id)) return;
    var button = event.submitter;
    if (!button || button.name !== "action") return;
    event.preventDefault();
    var row = document.getElementById(form.id.replace("decide-form-", "decide-")).closest("tr");
    select(rows.indexOf(row), false);
    send(form, button.value);
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (queue) {
      rows = Array.prototype.filter.call(document.querySelectorAll("#result_list tbody tr"), function (row) {
        return row.querySelector(".moderato-decide");
      });
      rows.forEach(function (row, index) {
        row.tabIndex = -1;
        row.addEventListener("mousedown", function () {
          select(index, false);
        });
      });
      var anchored = location.hash && document.getElementById(location.hash.slice(1));
      var start = anchored ? rows.indexOf(anchored.closest("tr")) : 0;
      select(start < 0 ? 0 : start, false);
    }
    var close = document.querySelector(".moderato-help-close");
    if (close) close.addEventListener("click", function () { toggleHelp(false); });
  });
})();
