// Swagger UI's start-up, served by nginx at /docs/swagger-initializer.js in place of the one in
// the packaged distribution (whose other files are served untouched, so upgrading Swagger UI is
// replacing the directory). The document is the live one: generated per request from the
// configuration, so a reload shows services added or disabled since.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
    // "Try it out" sends the key given under "Authorize"; it stays in this tab only.
    persistAuthorization: false,
    tryItOutEnabled: false,
    displayRequestDuration: true,
    validatorUrl: null,
  });
};
