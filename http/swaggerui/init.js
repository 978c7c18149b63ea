// Loads IMS's own OpenAPI document. Kept out of index.html so the page works
// under a Content-Security-Policy that forbids inline scripts.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // "Try it out" keeps the API key the user enters under Authorize.
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
};
