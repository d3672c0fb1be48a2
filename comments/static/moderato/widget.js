/*! Moderato comment widget: a "Leave a reply" form and the published comments of one page.
 *
 *   <script src="https://HOST/static/moderato/widget.js" data-site="KEY" async></script>
 *   <div id="moderato-thread"></div>   (optional; created right after the script tag when absent)
 *
 * data-site       the site's public key (required)
 * data-thread     the thread key (default: location.pathname)
 * data-api        the API origin (default: the origin this script was loaded from)
 * data-lang       a BCP 47 tag (default: the page's <html lang>, then en): bg, bs, de, el, en, es, fr, hr, it,
 *                 mk, pl, ro, ru, sq, sr-Cyrl (and sr), sr-Latn, tr, uk; a region is ignored (sr-Latn-RS
 *                 is sr-Latn). English is built in; another language's texts are one small file, i18n/LANG.json
 *                 next to this script, fetched only for a page in that language.
 * data-texts      JSON overriding any text below, e.g. '{"post": "Send"}'
 * data-page-size  top-level comments per page (default 20, at most 100)
 * data-theme      "light" or "dark" (default: follow prefers-color-scheme)
 *
 * Theming: set any of these CSS custom properties on the page; they inherit into the shadow root:
 * --moderato-accent, --moderato-accent-text, --moderato-text, --moderato-muted, --moderato-background,
 * --moderato-surface, --moderato-border, --moderato-error, --moderato-font, --moderato-font-size,
 * --moderato-radius.
 *
 * No cookies. Storage: an unsent draft in sessionStorage (this tab only); after a post, the signed
 * commenter token the server returned in localStorage under "moderato:<site>:commenter" (an opaque
 * random id, no name or e-mail), sent with the next post so that a moderator's trust follows the
 * commenter, never something another reader can type, and with an edit or deletion of the reader's own
 * comment; and under "moderato:<site>:own" the ids of their comments still in the site's edit window
 * (with when it closes), which get "Edit" and "Delete". Clearing site data forgets both. When the reader
 * starts typing, a form token (a signed time) is fetched: a post sent seconds after it is
 * held as a bot's. User text is only ever set as textContent.
 *
 * "Your data" and "Erase your comments" under the form: with the commenter token, the comments posted
 * from this browser are downloaded as JSON or erased at once (after a confirmation); without one, the
 * reader gives the e-mail address they posted with and gets a signed link there.
 */
(() => {
  "use strict";

  // Captured now: document.currentScript is null once this script has finished running.
  const script = document.currentScript || document.querySelector('script[src*="moderato/widget.js"][data-site]');
  if (!script) return;

  // English, the fallback and the list of every key: strict JSON (tests read it); every other language
  // is one file in i18n/, fetched only for a page in that language. A count is an object of
  // Intl.PluralRules categories.
  const EN = {
    "heading": "Leave a reply",
    "comment": "Comment",
    "name": "Name",
    "email": "Email",
    "optional": "(optional, never shown)",
    "notify": "E-mail me about replies (we send a confirmation link first)",
    "post": "Post Comment",
    "posting": "Posting…",
    "commentRequired": "Please enter your comment!",
    "nameRequired": "Please enter your name here",
    "emailInvalid": "Please enter a valid email address",
    "threadClosed": "Comments on this article are closed.",
    "closesOn": "Comments close on {date}",
    "parentGone": "The comment you are replying to is no longer available.",
    "checking": "Thanks! Your comment is being checked…",
    "published": "Thanks! Your comment has been published.",
    "held": "Your comment is awaiting moderation.",
    "slow": "Your comment was received and is still being checked. It will appear once it has been reviewed.",
    "failed": "Your comment could not be sent. Your text is still here; please try again.",
    "rateLimited": "You are posting too quickly. Your text is still here; please try again in a moment.",
    "reply": "Reply",
    "replyingTo": "Replying to {name}",
    "cancelReply": "Cancel reply",
    "report": "Report",
    "reportReason": "Why should a moderator look at this comment?",
    "sendReport": "Send report",
    "cancel": "Cancel",
    "reportThanks": "Thanks, a moderator will look at it.",
    "reportFailed": "Could not send the report.",
    "edit": "Edit",
    "save": "Save",
    "delete": "Delete",
    "confirmDelete": "Delete your comment?",
    "deleted": "[deleted]",
    "staff": "Staff",
    "editChecking": "Your edit is being checked…",
    "editPublished": "Your edit has been published.",
    "editHeld": "Your edit is awaiting moderation; the comment keeps its text until then.",
    "editUnchanged": "That is the comment's text already.",
    "changePending": "This comment is still being checked; please try again in a moment.",
    "changeHeld": "This comment is awaiting moderation and cannot be edited.",
    "changeClosed": "This comment can no longer be edited or deleted.",
    "changeFailed": "That did not work; please try again.",
    "myData": "Your data",
    "eraseMine": "Erase your comments",
    "rightsEmail": "The e-mail address you posted with",
    "sendLink": "Send me a link",
    "linkSent": "If comments were posted here with this address, a link is on its way to it.",
    "downloaded": "Your comments have been downloaded.",
    "eraseConfirm": "Erase every comment posted here from this browser? This cannot be undone.",
    "eraseYes": "Erase",
    "erased": "Your comments have been erased.",
    "rightsFailed": "That did not work. Please try again.",
    "loading": "Loading comments…",
    "loadFailed": "Comments could not be loaded.",
    "retry": "Try again",
    "loadMore": "Load more comments",
    "none": "No comments yet",
    "count": { "one": "{n} comment", "other": "{n} comments" }
  };
  // The server's messages the widget shows, for a field or a refused edit (their English text, as gettext
  // keys them), and the text shown instead; strict JSON too.
  const SERVER = {
    "Please enter your comment!": "commentRequired",
    "Please enter your name here": "nameRequired",
    "Enter a valid email address.": "emailInvalid",
    "This thread is closed.": "threadClosed",
    "Unknown parent comment.": "parentGone",
    "The parent comment belongs to another thread.": "parentGone",
    "This is the comment's text already.": "editUnchanged",
    "This comment is still being checked; try again in a moment.": "changePending",
    "This comment is awaiting moderation and cannot be edited.": "changeHeld"
  };
  const LANGUAGES = "bg bs de el es fr hr it mk pl ro ru sq sr-Cyrl sr-Latn tr uk".split(" ");

  const DARK =
    "--_a:var(--moderato-accent,#7aa7ff);--_at:var(--moderato-accent-text,#0b1220);" +
    "--_fg:var(--moderato-text,#e6edf3);--_mu:var(--moderato-muted,#9da7b3);" +
    "--_bg:var(--moderato-background,#161b22);--_sf:var(--moderato-surface,#0d1117);" +
    "--_bd:var(--moderato-border,#3d444d);--_er:var(--moderato-error,#ff8e85);--_p:1.25em 1.5em;color-scheme:dark";

  const CSS = `
:host{display:block;--_a:var(--moderato-accent,#1a5fb4);--_at:var(--moderato-accent-text,#fff);
--_fg:var(--moderato-text,currentColor);--_mu:var(--moderato-muted,#5b636d);--_bg:var(--moderato-background,transparent);
--_sf:var(--moderato-surface,#fff);--_bd:var(--moderato-border,#d0d7de);--_er:var(--moderato-error,#b42318);
--_r:var(--moderato-radius,6px);--_p:0;color-scheme:light;
font-family:var(--moderato-font);font-size:var(--moderato-font-size);line-height:1.5}
@media (prefers-color-scheme:dark){:host(:not([data-theme=light])){${DARK}}}
:host([data-theme=dark]){${DARK}}
*{box-sizing:border-box}
[hidden]{display:none!important}
.m{color:var(--_fg);background:var(--_bg);border-radius:var(--_r);padding:var(--_p)}
h2,h3{margin:0 0 .8em;line-height:1.25}
h2{font-size:1.3em}
h3{font-size:1.15em}
ol{list-style:none;margin:0;padding:0}
.list{border-bottom:1px solid var(--_bd)}
.list>.c{border-top:1px solid var(--_bd)}
.a{display:flex;gap:.8em;padding:1em 0}
.av{flex:none;width:2.4em;height:2.4em;border-radius:50%;display:grid;place-items:center;color:#fff;font-weight:700;user-select:none}
.mn{flex:1;min-width:0}
.hd{display:flex;flex-wrap:wrap;align-items:baseline;gap:.15em .6em}
.n{font-weight:700}
time{color:var(--_mu);font-size:.85em}
.b{white-space:pre-wrap;overflow-wrap:anywhere;margin:.3em 0 .45em}
.b a{color:var(--_a)}
.acts{display:flex;gap:1.1em}
.rp{margin-left:1.2em;padding-left:1.2em;border-left:2px solid var(--_bd)}
.rp:empty{display:none}
.rp .rp .rp .rp{margin-left:0;padding-left:0;border:0}
.new>.a{animation:hl 2.5s ease-out}
@keyframes hl{from{background:color-mix(in srgb,var(--_a) 18%,transparent)}}
.l{background:none;border:0;padding:0;margin:0;font:inherit;font-size:.875em;font-weight:600;color:var(--_a);cursor:pointer}
.l:hover{text-decoration:underline}
.btn{font:inherit;font-weight:600;color:var(--_at);background:var(--_a);border:1px solid var(--_a);border-radius:var(--_r);padding:.55em 1.3em;cursor:pointer}
.btn:hover{filter:brightness(1.1)}
.btn:disabled{opacity:.65;cursor:progress}
.sm{font-size:.875em;padding:.35em .9em}
:focus-visible{outline:2px solid var(--_a);outline-offset:2px}
.more{display:block;margin:1em auto 0;font:inherit;font-size:.9em;color:var(--_a);background:none;border:1px solid var(--_bd);border-radius:var(--_r);padding:.45em 1.2em;cursor:pointer}
.form{margin-top:1.75em}
.c .form{margin:0 0 1.25em 3.2em;padding:1em 1.1em;border:1px solid var(--_bd);border-radius:var(--_r)}
.to{margin:-.4em 0 1em;color:var(--_mu);display:flex;flex-wrap:wrap;gap:.6em;align-items:baseline}
.f{margin-bottom:1em}
.row{display:grid;grid-template-columns:repeat(auto-fit,minmax(13em,1fr));gap:0 1em}
label{display:block;font-weight:600;font-size:.9em;margin-bottom:.3em}
.hint{font-weight:400;color:var(--_mu)}
input,textarea{display:block;width:100%;font:inherit;color:inherit;background:var(--_sf);border:1px solid var(--_bd);border-radius:var(--_r);padding:.5em .7em}
textarea{min-height:7.5em;resize:vertical}
input:focus,textarea:focus{border-color:var(--_a);outline:2px solid color-mix(in srgb,var(--_a) 35%,transparent);outline-offset:0}
[aria-invalid=true]{border-color:var(--_er)}
.er{margin:.3em 0 0;color:var(--_er);font-size:.875em;font-weight:600}
.er:empty{margin:0}
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
.act{display:flex;flex-wrap:wrap;gap:1em;align-items:center}
.nt{margin:.9em 0 0;padding:.55em .8em;border-left:3px solid var(--_a)}
.nt:empty{margin:0;padding:0;border:0}
.nt[data-kind=err],.st{color:var(--_er);border-color:var(--_er)}
.st{margin:0 0 1em}
.st:empty{margin:0}
.rf{margin:.4em 0 .6em;max-width:32em}
.rf input{margin-bottom:.5em}
.rt{margin:1em 0 0}
.ck{display:flex;gap:.5em;align-items:baseline}.ck input{width:auto}.ck label{font-weight:400}
.gone{color:var(--_mu);font-style:italic}
.sb{font-size:.75em;font-weight:700;color:var(--_at);background:var(--_a);border-radius:1em;padding:0 .6em}
.staff>.a>.av{background:var(--_a);color:var(--_at)}
`;

  const h = (tag, props, ...kids) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    el.append(...kids.filter((kid) => kid != null)); // strings become text nodes, never markup
    return el;
  };
  const fmt = (text, vars) => text.replace(/\{(\w+)\}/g, (all, key) => (key in vars ? vars[key] : all));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const uid = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

  const opt = script.dataset;
  const API = (opt.api || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  const SITE = opt.site || "";
  const THREAD = opt.thread || location.pathname;
  const PAGE_SIZE = Math.min(100, Math.max(1, parseInt(opt.pageSize, 10) || 20));
  // A BCP 47 tag's canonical form and its texts: its language and script (sr-Latn-RS -> sr-Latn; a
  // bare sr takes its likely script, Cyrillic), else its language; null when there are none for it.
  const pick = (tag) => {
    try {
      const canonical = Intl.getCanonicalLocales(tag.replace(/_/g, "-"))[0];
      const likely = new Intl.Locale(canonical).maximize();
      const file = [`${likely.language}-${likely.script}`, likely.language].find((name) => name === "en" || LANGUAGES.includes(name));
      return file ? [canonical, file] : null;
    } catch (e) {
      return null; // not a language tag, or a browser without Intl.Locale: English
    }
  };
  const [LOCALE, FILE] = [opt.lang, document.documentElement.lang].map((tag) => tag && pick(tag)).find(Boolean) || ["en", "en"];
  const T = Object.assign({}, EN);
  const plural = window.Intl && Intl.PluralRules ? new Intl.PluralRules(LOCALE) : { select: (n) => (n === 1 ? "one" : "other") };
  const counted = (n) => {
    const forms = T.count || {};
    return fmt(forms[plural.select(n)] || forms.other || "{n}", { n: n.toLocaleString(LOCALE) });
  };
  // Fetched while the page loads; English if the file cannot be had within 3 s. Resolves to the
  // language of the texts, for the widget's lang attribute.
  const textsLoaded = (async () => {
    let shown = LOCALE;
    if (FILE !== "en") {
      try {
        const url = new URL(`i18n/${FILE}.json`, script.src);
        const response = await Promise.race([fetch(url, { mode: "cors", credentials: "omit" }), sleep(3000)]);
        if (!response || !response.ok) throw new Error(response ? `HTTP ${response.status}` : "timed out");
        Object.assign(T, await response.json());
      } catch (e) {
        console.warn(`Moderato: texts for ${FILE} could not be loaded, English instead`, e);
        shown = "en";
      }
    }
    if (opt.texts) {
      try {
        Object.assign(T, JSON.parse(opt.texts));
      } catch (e) {
        console.warn("Moderato: data-texts is not valid JSON", e);
      }
    }
    return shown;
  })();

  const call = (url, init = {}) =>
    fetch(url, {
      mode: "cors",
      credentials: "omit",
      ...init,
      headers: { Accept: "application/json", ...(init.body ? { "Content-Type": "application/json" } : {}), ...init.headers },
    });

  const rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(LOCALE, { numeric: "auto" }) : null;
  const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
  const ago = (date) => {
    if (isNaN(date)) return "";
    const seconds = Math.min(0, (date - Date.now()) / 1000);
    if (!rtf) return date.toLocaleDateString(LOCALE);
    for (const [unit, size] of UNITS) if (-seconds >= size) return rtf.format(Math.round(seconds / size), unit);
    return rtf.format(0, "second");
  };

  // Clickable links, marked as user content; only http(s) URLs are ever made into links.
  const linkify = (text) => {
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(/\bhttps?:\/\/[^\s<>"]+/gi)) {
      const url = match[0].replace(/[.,;:!?'")\]]+$/, "");
      parts.push(text.slice(last, match.index), h("a", { href: url, rel: "nofollow ugc noopener", target: "_blank", text: url }));
      last = match.index + url.length;
    }
    parts.push(text.slice(last));
    return parts;
  };

  const hue = (name) => {
    let sum = 0;
    for (const ch of name) sum = (sum * 31 + ch.codePointAt(0)) % 360;
    return sum;
  };

  function start(lang) {
    let mount = document.getElementById("moderato-thread");
    if (!mount) {
      mount = h("div", { id: "moderato-thread" });
      if (document.body.contains(script)) script.after(mount);
      else document.body.append(mount);
    }
    if (mount.shadowRoot) return;
    if (opt.theme) mount.setAttribute("data-theme", opt.theme);
    const root = mount.attachShadow({ mode: "open" });
    try {
      // A constructed stylesheet is not an inline style, so a strict Content-Security-Policy allows it.
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.append(h("style", { text: CSS }));
    }

    const errors = {};
    const field = (id, label, control, hint) => {
      errors[id] = h("p", { class: "er", id: id + "-error", "aria-live": "polite" });
      return h("div", { class: "f" }, h("label", { for: id }, label, hint ? h("span", { class: "hint", text: " " + hint }) : null), control, errors[id]);
    };
    const text = h("textarea", { id: "comment", name: "comment", rows: 5, maxlength: 5000, required: true });
    const name = h("input", { id: "name", name: "name", autocomplete: "name", maxlength: 100, required: true });
    const email = h("input", { id: "email", name: "email", type: "email", autocomplete: "email", maxlength: 254 });
    const honeypot = h("input", { id: "website", name: "website", tabindex: "-1", autocomplete: "off" });
    const notify = h("input", { id: "notify", name: "notify", type: "checkbox" });
    const controls = { comment: text, name, email };
    const button = h("button", { type: "submit", class: "btn", text: T.post });
    const notice = h("p", { class: "nt", role: "status", "aria-live": "polite" });
    const replyingTo = h("span");
    const replying = h("p", { class: "to", hidden: true }, replyingTo, h("button", { type: "button", class: "l", onclick: () => cancelReply(true), text: T.cancelReply }));
    const closing = h("p", { class: "to", hidden: true });
    const form = h(
      "form",
      { class: "form", novalidate: true, "aria-labelledby": "form-heading" },
      h("h3", { id: "form-heading", text: T.heading }),
      closing,
      replying,
      field("comment", T.comment, text),
      h("div", { class: "row" }, field("name", T.name, name), field("email", T.email, email, T.optional)),
      h("div", { class: "f ck" }, notify, h("label", { for: "notify", text: T.notify })),
      h("div", { class: "hp", "aria-hidden": "true" }, h("label", { for: "website" }, "Website"), honeypot),
      h("div", { class: "act" }, button),
      notice
    );
    const heading = h("h2", { id: "count", text: T.loading });
    const status = h("p", { class: "st", role: "status", "aria-live": "polite" });
    const list = h("ol", { class: "list" });
    const more = h("button", { type: "button", class: "more", hidden: true, text: T.loadMore, onclick: () => load() });
    const home = h("div", {}, form);
    const rightsBox = h("div", { class: "rf" });
    const rights = h(
      "p",
      { class: "acts rt" },
      h("button", { type: "button", class: "l", text: T.myData, onclick: () => rightsOpen("export") }),
      h("button", { type: "button", class: "l", text: T.eraseMine, onclick: () => rightsOpen("erase") })
    );
    root.append(h("section", { class: "m", lang, "aria-labelledby": "count" }, heading, status, list, more, home, rights, rightsBox));

    const say = (message, kind) => {
      notice.textContent = message || "";
      if (kind) notice.setAttribute("data-kind", kind);
      else notice.removeAttribute("data-kind");
    };

    // The thread.
    const nodes = new Map(); // comment id -> {li, replies, comment, replyButton, bodyBox, acts}
    let page = 0;
    let total = 0;
    const showCount = () => {
      heading.hidden = false;
      heading.textContent = total === 0 ? T.none : counted(total);
    };

    function add(comment, into) {
      if (nodes.has(comment.id)) return null;
      const created = new Date(comment.created);
      const initial = (Array.from(comment.name.trim())[0] || "?").toUpperCase();
      const avatar = h("div", { class: "av", "aria-hidden": "true", text: initial });
      if (!comment.staff) avatar.style.backgroundColor = `hsl(${hue(comment.name)},42%,42%)`;
      const replyButton = h("button", { type: "button", class: "l", text: T.reply, onclick: () => replyTo(comment.id) });
      const reportButton = h("button", { type: "button", class: "l", text: T.report, "aria-expanded": "false" });
      const reportBox = h("div");
      reportButton.addEventListener("click", () => report(comment.id, reportBox, reportButton));
      const replies = h("ol", { class: "rp" });
      const bodyBox = h("div", { class: "b" }, ...linkify(comment.comment));
      const acts = h("div", { class: "acts" }, closed ? null : replyButton, reportButton);
      if (comment.deleted) {
        bodyBox.className = "b gone";
        bodyBox.textContent = T.deleted;
        acts.replaceChildren();
      } else if (ownUntil(comment.id) > Date.now()) {
        acts.append(
          h("button", { type: "button", class: "l", text: T.edit, onclick: () => editOwn(comment.id) }),
          h("button", { type: "button", class: "l", text: T.delete, onclick: () => deleteOwn(comment.id) })
        );
      }
      const li = h(
        "li",
        { class: comment.staff ? "c staff" : "c", "data-comment-id": comment.id },
        h(
          "article",
          { class: "a" },
          avatar,
          h(
            "div",
            { class: "mn" },
            h("header", { class: "hd" }, h("strong", { class: "n", text: comment.name }), comment.staff ? h("span", { class: "sb", text: T.staff }) : null, h("time", { datetime: comment.created, title: isNaN(created) ? null : created.toLocaleString(LOCALE), text: ago(created) })),
            bodyBox,
            acts,
            reportBox
          )
        ),
        replies
      );
      nodes.set(comment.id, { li, replies, comment, replyButton, bodyBox, acts });
      into.append(li);
      for (const reply of comment.replies || []) add(reply, replies);
      return li;
    }

    // fresh: ask the server again rather than the browser's copy (after an erasure).
    async function load(fresh) {
      more.disabled = true;
      status.textContent = "";
      try {
        const query = new URLSearchParams({ site: SITE, thread: THREAD, page: page + 1, page_size: PAGE_SIZE });
        const response = await call(`${API}/api/v1/comments?${query}`, fresh ? { cache: "no-cache" } : {});
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const data = await response.json();
        page = data.page;
        total = data.total;
        if (data.open === false) closeThread();
        else if (data.closes_at) {
          const date = new Date(data.closes_at).toLocaleDateString(LOCALE, { day: "numeric", month: "long", year: "numeric" });
          closing.textContent = fmt(T.closesOn, { date });
          closing.hidden = false;
        }
        showCount();
        for (const comment of data.results) add(comment, list);
        more.hidden = !data.next;
      } catch (e) {
        console.warn("Moderato: could not load the comments", e);
        if (!page) heading.hidden = true;
        status.replaceChildren(T.loadFailed + " ", h("button", { type: "button", class: "l", text: T.retry, onclick: () => load() }));
      } finally {
        more.disabled = false;
      }
    }

    // A closed thread (a moderator's, or the site's after so many days): no form and no Reply, only the
    // comments; the reader's unsent draft stays in sessionStorage.
    let closed = false;
    function closeThread() {
      if (closed) return;
      closed = true;
      if (parentId) cancelReply(false);
      home.replaceChildren(h("p", { class: "nt", role: "status", text: T.threadClosed }));
      for (const node of nodes.values()) node.replyButton.remove();
    }

    // Replies: the form moves under the comment replied to.
    let parentId = null;
    function replyTo(id) {
      const node = nodes.get(id);
      parentId = id;
      node.li.insertBefore(form, node.replies);
      replyingTo.textContent = fmt(T.replyingTo, { name: node.comment.name });
      replying.hidden = false;
      text.focus();
    }
    function cancelReply(refocus) {
      const node = nodes.get(parentId);
      parentId = null;
      replying.hidden = true;
      home.append(form);
      if (refocus && node) node.replyButton.focus();
    }
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && parentId) cancelReply(true);
    });

    function report(id, box, opener) {
      if (box.firstChild) {
        box.textContent = "";
        opener.setAttribute("aria-expanded", "false");
        return;
      }
      const reason = h("input", { id: `reason-${id}`, maxlength: 500 });
      const sent = h("p", { class: "nt", role: "status", "aria-live": "polite" });
      const send = h("button", { type: "submit", class: "btn sm", text: T.sendReport });
      const parts = [
        h("label", { for: `reason-${id}`, text: T.reportReason }),
        reason,
        h("div", { class: "act" }, send, h("button", { type: "button", class: "l", text: T.cancel, onclick: () => {
          report(id, box, opener);
          opener.focus();
        } })),
      ];
      const reportForm = h("form", { class: "rf", novalidate: true }, ...parts, sent);
      reportForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        send.disabled = true;
        let ok = false;
        try {
          const response = await call(`${API}/api/v1/comments/${id}/report`, { method: "POST", body: JSON.stringify({ site: SITE, reason: reason.value.trim() }) });
          ok = response.ok;
        } catch (e) {
          ok = false;
        }
        send.disabled = false;
        sent.textContent = ok ? T.reportThanks : T.reportFailed;
        if (ok) parts.forEach((part) => part.remove());
        else sent.setAttribute("data-kind", "err");
      });
      box.append(reportForm);
      opener.setAttribute("aria-expanded", "true");
      reason.focus();
    }

    // The draft survives a reload of the tab, never the session.
    const draftKey = `moderato:${SITE}:${THREAD}`;
    const store = (() => {
      try {
        return window.sessionStorage;
      } catch (e) {
        return null;
      }
    })();
    const saveDraft = () => {
      try {
        store.setItem(draftKey, JSON.stringify({ comment: text.value, name: name.value, email: email.value }));
      } catch (e) {
        // Storage full or blocked: the text is still in the form.
      }
    };
    try {
      const draft = JSON.parse(store.getItem(draftKey)) || {};
      text.value = draft.comment || "";
      name.value = draft.name || "";
      email.value = draft.email || "";
    } catch (e) {
      // No draft.
    }

    const clearError = (key) => {
      errors[key].textContent = "";
      controls[key].removeAttribute("aria-invalid");
      controls[key].removeAttribute("aria-describedby");
    };
    form.addEventListener("input", (event) => {
      saveDraft();
      const key = event.target.id;
      if (controls[key] && controls[key].hasAttribute("aria-invalid")) clearError(key);
    });

    // Shows field messages next to their fields, any other message in the notice; true if any.
    const showErrors = (messages) => {
      const other = [];
      let first = null;
      for (const [key, value] of Object.entries(messages)) {
        const joined = [].concat(value).map((message) => (SERVER[message] ? T[SERVER[message]] : message)).join(" ");
        if (controls[key]) {
          errors[key].textContent = joined;
          controls[key].setAttribute("aria-invalid", "true");
          controls[key].setAttribute("aria-describedby", key + "-error");
          first = first || controls[key];
        } else other.push(joined);
      }
      if (other.length) say(other.join(" "), "err");
      if (first) first.focus();
      return !!(first || other.length);
    };

    // The commenter token: kept across visits so that trust follows the commenter (see the header).
    const commenterKey = `moderato:${SITE}:commenter`;
    const kept = (() => {
      try {
        return window.localStorage;
      } catch (e) {
        return null;
      }
    })();
    const commenterToken = () => {
      try {
        return kept.getItem(commenterKey) || "";
      } catch (e) {
        return "";
      }
    };
    const keepCommenterToken = (token) => {
      try {
        if (token) kept.setItem(commenterKey, token);
      } catch (e) {
        // Storage blocked: the next post starts a new commenter.
      }
    };

    // The reader's own comments, while the site lets them edit or delete them: id -> when that ends (ms).
    const ownKey = `moderato:${SITE}:own`;
    const ownRead = () => {
      try {
        return JSON.parse(kept.getItem(ownKey)) || {};
      } catch (e) {
        return {};
      }
    };
    const ownUntil = (id) => ownRead()[id] || 0;
    const ownKeep = (id, until) => {
      const own = Object.fromEntries(Object.entries(ownRead()).filter(([, end]) => end > Date.now()));
      if (id && until > Date.now()) own[id] = until;
      try {
        kept.setItem(ownKey, JSON.stringify(own));
      } catch (e) {
        // Storage blocked: no Edit or Delete after a reload.
      }
    };
    const ownCall = (id, method, body) =>
      call(`${API}/api/v1/comments/${id}`, { method, body: JSON.stringify({ ...body, commenter_token: commenterToken() }) });
    // A refused edit or deletion in the reader's language: the server's message when it is a known one,
    // else what the answer's status means to an author (403: the window has closed or the token is not
    // theirs; 404: already gone).
    const ownFailed = async (node, response) => {
      const data = response ? await response.json().catch(() => ({})) : {};
      const known = [].concat(data.comment || data.detail || []).map((message) => SERVER[message]).find(Boolean);
      const key = known || { 403: "changeClosed", 404: "changeClosed", 429: "rateLimited" }[response && response.status];
      node.bodyBox.after(h("p", { class: "nt", "data-kind": "err", role: "status", text: T[key || "changeFailed"] }));
    };

    function editOwn(id) {
      const node = nodes.get(id);
      if (node.li.querySelector(".rf")) return;
      const box = h("textarea", { "aria-label": T.edit, maxlength: 5000 });
      box.value = node.comment.comment;
      const save = h("button", { type: "submit", class: "btn sm", text: T.save });
      const editor = h("form", { class: "rf", novalidate: true }, box, h("div", { class: "act" }, save, h("button", { type: "button", class: "l", text: T.cancel, onclick: () => {
        editor.remove();
        node.bodyBox.hidden = false;
      } })));
      editor.addEventListener("submit", async (event) => {
        event.preventDefault();
        save.disabled = true;
        node.li.querySelectorAll(".nt").forEach((old) => old.remove());
        const response = await ownCall(id, "PATCH", { comment: box.value }).catch(() => null);
        save.disabled = false;
        if (!response || response.status !== 202) return ownFailed(node, response);
        const { status_url: url } = await response.json();
        editor.remove();
        node.bodyBox.hidden = false;
        const note = h("p", { class: "nt", role: "status", "aria-live": "polite", text: T.editChecking });
        node.bodyBox.after(note);
        for (let wait = 500, end = Date.now() + 60000; Date.now() < end; wait = Math.min(wait * 1.5, 5000)) {
          await sleep(wait);
          const data = await call(url).then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
          if (data.edit_status === "published" && data.comment) {
            node.comment.comment = data.comment.comment;
            node.bodyBox.replaceChildren(...linkify(data.comment.comment));
            return (note.textContent = T.editPublished);
          }
          if (data.edit_status === "held") return (note.textContent = T.editHeld);
        }
      });
      node.bodyBox.hidden = true;
      node.bodyBox.after(editor);
      box.focus();
    }

    async function deleteOwn(id) {
      const node = nodes.get(id);
      if (!window.confirm(T.confirmDelete)) return;
      const response = await ownCall(id, "DELETE", {}).catch(() => null);
      if (!response || response.status !== 204) return ownFailed(node, response);
      if (node.replies.children.length) {
        node.bodyBox.className = "b gone";
        node.bodyBox.textContent = T.deleted;
        node.acts.replaceChildren();
        node.li.querySelector(".n").textContent = "";
      } else {
        node.li.remove();
        nodes.delete(id);
        total -= 1;
        showCount();
      }
    }

    // The form token: fetched once, when the reader starts writing.
    let formToken = null;
    const fetchFormToken = () => {
      formToken =
        formToken ||
        call(`${API}/api/v1/form-token?${new URLSearchParams({ site: SITE })}`)
          .then((response) => (response.ok ? response.json() : {}))
          .then((data) => data.form_token || "")
          .catch(() => "")
          .then((token) => {
            if (!token) formToken = null; // try again at the next focus or post
            return token;
          });
      return formToken;
    };
    form.addEventListener("input", fetchFormToken, { once: true });

    let idempotencyKey = "";
    let keyedBody = "";
    let busy = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      Object.keys(controls).forEach(clearError);
      say("");
      const invalid = {};
      if (!text.value.trim()) invalid.comment = T.commentRequired;
      if (!name.value.trim()) invalid.name = T.nameRequired;
      if (email.value.trim() && !email.checkValidity()) invalid.email = T.emailInvalid;
      if (showErrors(invalid)) return;

      const body = { site: SITE, thread: THREAD, name: name.value.trim(), comment: text.value };
      if (email.value.trim()) body.email = email.value.trim();
      if (email.value.trim() && notify.checked) body.notify_replies = true;
      if (parentId) body.parent = parentId;
      if (honeypot.value) body.website = honeypot.value;
      const json = JSON.stringify(body);
      // The same text keeps its key, so a retry after a lost answer never posts twice.
      if (json !== keyedBody) {
        keyedBody = json;
        idempotencyKey = uid();
      }

      busy = true;
      button.disabled = true;
      button.textContent = T.posting;
      form.setAttribute("aria-busy", "true");
      let response = null;
      let data = {};
      try {
        // Not in the idempotency key's text: the same comment keeps its key whatever the tokens.
        const tokens = { form_token: await Promise.race([fetchFormToken(), sleep(3000).then(() => "")]), commenter_token: commenterToken() };
        response = await call(`${API}/api/v1/comments`, { method: "POST", headers: { "Idempotency-Key": idempotencyKey }, body: JSON.stringify({ ...body, ...tokens }) });
        data = await response.json().catch(() => ({}));
      } catch (e) {
        console.warn("Moderato: could not send the comment", e);
      }
      busy = false;
      button.disabled = false;
      button.textContent = T.post;
      form.removeAttribute("aria-busy");

      if (response && response.ok && data.status_url) {
        keepCommenterToken(data.commenter_token);
        if (data.editable_until) ownKeep(data.id, Date.parse(data.editable_until));
        keyedBody = "";
        text.value = "";
        saveDraft();
        if (parentId) cancelReply(false);
        say(T.checking);
        follow(data.status_url);
      } else if (response && response.status === 400 && showErrors(data)) {
        // Shown next to the fields.
      } else {
        if (response && response.status === 409) keyedBody = "";
        say(response && response.status === 429 ? T.rateLimited : T.failed, "err");
      }
    });

    // Polls a submitted comment until it is decided, backing off; gives up after a minute.
    async function follow(url) {
      const deadline = Date.now() + 60000;
      let wait = 500;
      while (Date.now() < deadline) {
        await sleep(wait);
        wait = Math.min(wait * 1.5, 5000);
        let data;
        try {
          const response = await call(url);
          if (!response.ok) continue;
          data = await response.json();
        } catch (e) {
          continue;
        }
        if (data.status === "published" && data.comment) {
          const parent = nodes.get(data.comment.parent);
          const li = add(data.comment, parent ? parent.replies : list);
          if (li) {
            total += 1;
            showCount();
            li.classList.add("new");
            li.scrollIntoView({ block: "nearest", behavior: "smooth" });
          }
          return say(T.published);
        }
        if (data.status === "held" || data.status === "rejected") return say(T.held);
      }
      say(T.slow);
    }

    // Readers' data: a copy of their comments, or their erasure. With the commenter token this browser
    // keeps, at once; without one, a signed link mailed to the address they posted with.
    const rightsCall = (path, body) =>
      call(`${API}/api/v1/readers/${path}`, { method: "POST", body: JSON.stringify({ site: SITE, ...body }) }).then((response) => {
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return response.json();
      });
    function rightsOpen(purpose) {
      const note = h("p", { class: "nt", role: "status", "aria-live": "polite" });
      const tell = (message, kind) => {
        note.textContent = message;
        if (kind) note.setAttribute("data-kind", kind);
        else note.removeAttribute("data-kind");
      };
      const token = commenterToken();
      rightsBox.replaceChildren(note);
      if (!token) {
        const address = h("input", { id: "rights-email", type: "email", autocomplete: "email", maxlength: 254 });
        const send = h("button", { type: "submit", class: "btn sm", text: T.sendLink });
        const ask = h("form", { novalidate: true }, h("label", { for: "rights-email", text: T.rightsEmail }), address, h("div", { class: "act" }, send));
        ask.addEventListener("submit", (event) => {
          event.preventDefault();
          if (!address.value.trim() || !address.checkValidity()) return tell(T.emailInvalid, "err");
          send.disabled = true;
          rightsCall("requests", { email: address.value.trim(), request: purpose })
            .then(() => (ask.remove(), tell(T.linkSent)))
            .catch(() => tell(T.rightsFailed, "err"))
            .finally(() => (send.disabled = false));
        });
        rightsBox.prepend(ask);
        return address.focus();
      }
      if (purpose === "export") {
        return rightsCall("export", { commenter_token: token })
          .then((data) => {
            const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
            const link = h("a", { href: url, download: `comments-${SITE}.json`, hidden: true });
            rightsBox.append(link);
            link.click();
            link.remove();
            setTimeout(() => URL.revokeObjectURL(url), 10000);
            tell(T.downloaded);
          })
          .catch(() => tell(T.rightsFailed, "err"));
      }
      const yes = h("button", { type: "button", class: "btn sm", text: T.eraseYes });
      const ask = h("div", {}, h("p", { text: T.eraseConfirm }), h("div", { class: "act" }, yes, h("button", { type: "button", class: "l", text: T.cancel, onclick: () => rightsBox.replaceChildren() })));
      yes.addEventListener("click", () => {
        yes.disabled = true;
        rightsCall("erase", { commenter_token: token })
          .then(() => {
            ask.remove();
            tell(T.erased);
            try {
              kept.removeItem(ownKey); // none of them is the reader's to edit or delete any more
            } catch (e) {
              // Storage blocked: nothing was kept.
            }
            nodes.clear();
            list.replaceChildren();
            page = 0;
            load(true);
          })
          .catch(() => ((yes.disabled = false), tell(T.rightsFailed, "err")));
      });
      rightsBox.prepend(ask);
      yes.focus();
    }

    setInterval(() => {
      for (const time of root.querySelectorAll("time")) time.textContent = ago(new Date(time.dateTime));
    }, 60000);

    load();
  }

  const begin = () => textsLoaded.then(start);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", begin);
  else begin();
})();
