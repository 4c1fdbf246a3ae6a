// Swagger UI's start-up, served by nginx at /docs/swagger-initializer.js in place of the one in
// the packaged distribution (whose other files are served untouched, so upgrading Swagger UI is
// replacing the directory). The document is the live one: generated per request from the
// configuration, so a reload shows services added or disabled since.
//
// /api/openapi.json lists what its caller may call: without a key only the public services and
// endpoints. So the key given under "Authorize" is also sent when the document is fetched, and
// the document is fetched again after "Authorize" and "Logout": an admin key shows everything,
// an executor key its services.

/** The bearer key given under "Authorize", or null. */
function authorizedKey() {
  const auth = window.ui && window.ui.authSelectors.authorized();
  const value = auth && auth.getIn(['bearerAuth', 'value']);
  return value || null;
}

/** Fetches the document again (with the key now in force) once an authorization changed. */
function RefetchOnAuthorization() {
  const refetching = (action) => (original, system) => (payload) => {
    const result = original(payload);
    setTimeout(() => system.specActions.download(), 0);
    return result;
  };
  return {
    statePlugins: {
      auth: { wrapActions: { authorize: refetching('authorize'), logout: refetching('logout') } },
    },
  };
}

window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl, RefetchOnAuthorization],
    layout: "StandaloneLayout",
    // "Try it out" sends the key given under "Authorize"; it stays in this tab only.
    persistAuthorization: false,
    tryItOutEnabled: false,
    displayRequestDuration: true,
    validatorUrl: null,
    requestInterceptor: (request) => {
      const key = authorizedKey();
      if (request.loadSpec && key) request.headers.Authorization = `Bearer ${key}`;
      return request;
    },
  });
};
