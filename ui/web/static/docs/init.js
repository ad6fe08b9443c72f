// Starts Swagger UI on /docs. It lives in its own file because the server's Content-Security-Policy allows
// no inline script; swagger-ui-dist's own swagger-initializer.js is not used because it targets another
// document and sets options we want off.
'use strict';

(function () {
  if (typeof window.SwaggerUIBundle !== 'function') return;
  window.SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    // The default validator is an image loaded from validator.swagger.io: the CSP blocks it and it would
    // leak the document's URL to a third party.
    validatorUrl: null,
    // Never let ?url= or ?configUrl= in the address bar load another document or configuration.
    queryConfigEnabled: false,
    // Keep the bearer token in memory only, like the web UI does, never in browser storage.
    persistAuthorization: false,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 1,
  });
})();
