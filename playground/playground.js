// Starts GraphiQL (React, ReactDOM and GraphiQL come from the gateway's own /playground/assets).
// An external file, not an inline script, so the page's CSP can allow scripts from 'self' only.
/* global React, ReactDOM, GraphiQL */
(function () {
  var config = JSON.parse(document.getElementById('playground-config').textContent);
  // createFetcher POSTs with content-type: application/json, which passes Apollo's CSRF prevention.
  var fetcher = GraphiQL.createFetcher({ url: new URL(config.endpoint, window.location.href).href });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: config.tabs,
      defaultEditorToolsVisibility: false,
    }),
  );
})();
