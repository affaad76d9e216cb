// Show only the fields the chosen event type needs. Without JavaScript every field stays visible and the
// server checks the same rules.
(function () {
  "use strict";
  var form = document.getElementById("event-form");
  if (!form) return;
  var select = form.querySelector("select[name=event_type]");
  var severity = form.querySelector("select[name=severity]");
  var allowed = { spot_check_fail: ["general", "serious"], penalty: ["general", "heavy"] };
  function update() {
    var type = select.value;
    form.querySelectorAll("[data-show-for]").forEach(function (group) {
      var types = group.getAttribute("data-show-for").split(" ");
      var show = types.indexOf(type) !== -1;
      var hasError = group.querySelector(".errors") !== null;
      group.hidden = !show && !hasError;
    });
    if (severity) {
      Array.prototype.forEach.call(severity.options, function (option) {
        option.hidden = option.value !== "" && !(allowed[type] || []).includes(option.value);
      });
      if (severity.selectedOptions[0] && severity.selectedOptions[0].hidden) severity.value = "";
    }
  }
  select.addEventListener("change", update);
  update();
})();
