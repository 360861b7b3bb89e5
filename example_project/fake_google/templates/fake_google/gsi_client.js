/* The stand-in's Google Identity Services: the code model in popup mode only. */
(function () {
  "use strict";
  var CONSENT_URL = {{ consent_url|safe }};
  var CONSENT_ORIGIN = new URL(CONSENT_URL).origin;

  function randomState() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function initCodeClient(config) {
    if (config.ux_mode && config.ux_mode !== "popup") {
      throw new Error("The stand-in's initCodeClient offers ux_mode: \"popup\" only.");
    }
    return {
      requestCode: function () {
        var state = config.state || randomState();
        var params = new URLSearchParams({
          client_id: config.client_id,
          redirect_uri: "postmessage",
          response_type: "code",
          scope: config.scope,
          state: state,
          origin: window.location.origin,
          include_granted_scopes: config.include_granted_scopes === false ? "false" : "true"
        });
        if (config.login_hint || config.hint) { params.set("login_hint", config.login_hint || config.hint); }
        var popup = window.open(CONSENT_URL + "?" + params.toString(), "g_auth_code_popup", "width=500,height=700");
        function onMessage(event) {
          if (event.origin !== CONSENT_ORIGIN || !event.data || event.data.type !== "fake-gsi-answer") { return; }
          window.removeEventListener("message", onMessage);
          var answer = event.data.answer;
          if (answer.state !== state) {
            answer = {error: "state_mismatch"};
          }
          if (answer.error && config.error_callback && answer.error !== "access_denied") {
            config.error_callback({type: "unknown", message: answer.error});
            return;
          }
          config.callback(answer);
        }
        window.addEventListener("message", onMessage);
      }
    };
  }

  window.google = window.google || {};
  window.google.accounts = window.google.accounts || {};
  window.google.accounts.oauth2 = {initCodeClient: initCodeClient};
})();
