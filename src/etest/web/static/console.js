// The console's progressive enhancement: htmx requests carry the session's CSRF token. Every page
// works without this file (forms post, lists filter on submit, task pages refresh themselves).
document.addEventListener("htmx:configRequest", function (event) {
  var token = document.body.getAttribute("data-csrf");
  if (token) { event.detail.headers["X-CSRF-Token"] = token; }
});
