/* Suggestions for a typed list filter (moderation.admin.TypedListFilter): as the moderator types, the
 * admin's autocomplete view (/admin/autocomplete/, the related admin's search over the rows they may see)
 * fills the input's datalist with at most 20 matches, each offered by its id with its name as the label.
 * Enter sends the filter's form. Without this script the form works the same, with no suggestions.
 * Text from the server is only ever set with textContent and value.
 */
(function () {
  "use strict";

  function suggest(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    var asked = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var term = input.value.trim();
        if (!term || term === asked || /^\d+$/.test(term)) return;
        asked = term;
        fetch(input.getAttribute("data-suggest") + "&term=" + encodeURIComponent(term), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        })
          .then(function (response) {
            return response.ok ? response.json() : { results: [] };
          })
          .then(function (answer) {
            if (term !== asked) return; // a later keystroke asked again
            list.replaceChildren();
            answer.results.forEach(function (result) {
              var option = document.createElement("option");
              option.value = result.id;
              option.textContent = result.text;
              list.appendChild(option);
            });
          })
          .catch(function () {});
      }, 200);
    });
  }

  document.querySelectorAll(".moderato-typed-filter input[data-suggest]").forEach(suggest);
})();
