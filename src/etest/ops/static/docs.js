// Starts Swagger UI on /openapi.json (a file of its own: the page's CSP allows no inline script).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // no badge fetched from swagger.io
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
  });
});
