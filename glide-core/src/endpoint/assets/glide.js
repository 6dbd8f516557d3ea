/*! glide.js: the browser side of glide-rs (prepare → invoke → process for ts43, link and desktop).
 *
 * Usage:
 *   <script src="/api/magical-auth/glide.js"></script>
 *   const result = await GlideAuth.verify({ useCase: "VerifyPhoneNumber", phoneNumber: "+15555550100" });
 *   // result: { phone_number, verified, sim_swap, device_swap, strategy, … }
 *
 * Options:
 *   useCase      "VerifyPhoneNumber" (default when phoneNumber is given) or "GetPhoneNumber"
 *   phoneNumber  E.164 number to verify (VerifyPhoneNumber)
 *   basePath     where the middleware's routes live (default "/api/magical-auth")
 *   onStatus     function (stage, detail): "preparing", "prompting", "waiting-for-link",
 *                "waiting-for-phone", "processing"
 *   onQrCode     function ({ image, url, challenge }) to show the desktop QR code (required for desktop)
 *   openLink     function (url) opening the carrier page (default: a new tab)
 *   timeoutMs    how long to wait for the carrier page or the phone (default 300000)
 *   strategy     force "ts43" | "link" | "desktop" (otherwise the server decides)
 *
 *   chain        true: run the server's verification chain (when the app configured one) to its
 *                end — Magical Auth, then the carrier check and one-time codes as the server says,
 *                under one attempt budget. Also takes:
 *   onCode       function ({ channel, channels, attemptsLeft, error }) → Promise of the code the
 *                person typed, or of { resend: true } or { choose: "email" | "sms" }
 *   onCarrierCheck function ({ authUrl }) → Promise of the carrier's token (optional: without it,
 *                the carrier check is skipped as not possible here)
 *   With chain, the result is { verified: true, step: "verified", phone_number?, strategy?, … }.
 *
 * Step-up (a protected action that asks for a fresh or stronger verification):
 *   const response = await GlideAuth.stepUp(() => fetch("/transfer", { method: "POST", … }),
 *                                          { phoneNumber: "+15555550100", onQrCode, … });
 *   Runs the request; on 401 STEP_UP_REQUIRED it verifies the same number again (the options
 *   of verify) and sends the request once more. Resolves to the last fetch Response.
 * Sessions of the verified number (each {handle, created_at, last_seen_at, strategy, user_agent,
 * ip, current}; 401 NOT_VERIFIED without a verified session):
 *   await GlideAuth.sessions()               // the list, oldest first
 *   await GlideAuth.revokeSession(handle)    // one of them (404 SESSION_NOT_FOUND if not ours)
 *   await GlideAuth.revokeOtherSessions()    // all but this browser's
 *   await GlideAuth.revokeAllSessions()      // all, this browser's too ("sign out everywhere")
 * Each takes an optional { basePath }.
 *
 * Errors are GlideError instances with .code (the server's code, or USER_CANCELLED,
 * BROWSER_NOT_SUPPORTED, TIMEOUT, NETWORK_ERROR), .status and .body.
 * The request and response bodies are those of Glide's official browser SDK.
 */
(function (global) {
  "use strict";

  class GlideError extends Error {
    constructor(code, message, status, body) {
      super(message || code);
      this.name = "GlideError";
      this.code = code;
      this.status = status || 0;
      this.body = body || null;
    }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {})
    }).catch(function () {
      throw new GlideError("NETWORK_ERROR", "The server could not be reached.");
    }).then(function (response) {
      if (response.status === 204) return { status: 204, body: null };
      return response.json().catch(function () { return null; }).then(function (json) {
        if (!response.ok && response.status !== 202) {
          var code = (json && (json.code || json.error)) || "HTTP_" + response.status;
          throw new GlideError(code, (json && json.message) || code, response.status, json);
        }
        return { status: response.status, body: json };
      });
    });
  }

  function credentialFromResponse(response) {
    var token = response && response.data ? response.data.vp_token : undefined;
    if (typeof response === "string") return response;
    if (typeof token === "string") return token;
    if (token && typeof token === "object") {
      var first = token[Object.keys(token)[0]];
      return Array.isArray(first) ? first[0] : first;
    }
    throw new GlideError("INVALID_RESPONSE", "The wallet returned no credential.");
  }

  async function ts43(prepared) {
    if (!global.navigator.credentials || typeof global.navigator.credentials.get !== "function") {
      throw new GlideError("BROWSER_NOT_SUPPORTED", "This browser cannot share a phone number credential.");
    }
    try {
      var response = await global.navigator.credentials.get({
        digital: { requests: [{ protocol: prepared.data.protocol, data: prepared.data.data }] }
      });
      return credentialFromResponse(response);
    } catch (e) {
      if (e instanceof GlideError) throw e;
      if (e && e.name === "NotAllowedError") throw new GlideError("USER_CANCELLED", "The request was declined.");
      throw new GlideError("BROWSER_NOT_SUPPORTED", (e && e.message) || "The credential request failed.");
    }
  }

  function waitForSignal(sessionKey, timeoutMs) {
    return new Promise(function (resolve, reject) {
      var done = false;
      function finish(value) {
        if (done) return;
        done = true;
        global.removeEventListener("storage", onStorage);
        clearTimeout(timer);
        clearInterval(poll);
        resolve(value);
      }
      // Only this flow's own signal: two Link flows in two tabs must not finish each other.
      function onStorage(event) {
        if (event.key === "glide_signal_" + sessionKey && event.newValue === sessionKey) finish(event.newValue);
      }
      function check() {
        try {
          var value = global.localStorage.getItem("glide_signal_" + sessionKey);
          if (value === sessionKey) finish(value);
        } catch (e) {}
      }
      global.addEventListener("storage", onStorage);
      // The storage event is the signal; this cheap local read only covers a signal written
      // before the listener existed.
      var poll = setInterval(check, 1000);
      var timer = setTimeout(function () {
        if (done) return;
        done = true;
        global.removeEventListener("storage", onStorage);
        clearInterval(poll);
        reject(new GlideError("TIMEOUT", "The carrier verification was not finished in time."));
      }, timeoutMs);
      check();
    });
  }

  function get(url) {
    return fetch(url, { credentials: "include" }).catch(function () {
      throw new GlideError("NETWORK_ERROR", "The server could not be reached.");
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (json) {
        if (!response.ok) {
          var code = (json && json.code) || "HTTP_" + response.status;
          throw new GlideError(code, (json && json.message) || code, response.status, json);
        }
        return { status: response.status, body: json };
      });
    });
  }

  // What the chain hears when a Magical Auth attempt in this browser ended without a session.
  function stepOutcome(error) {
    var code = error && error.code;
    if (code === "TIMEOUT") return "timed_out";
    if (code === "USER_CANCELLED" || code === "INVALID_VERIFICATION") return "denied";
    if (code === "NETWORK_ERROR" || (error && error.status >= 500)) return "unavailable";
    return "not_eligible";
  }

  async function runChain(options) {
    var base = options.basePath || "/api/magical-auth";
    var advance = function (event) { return post(base + "/verification/advance", event).then(function (a) { return a.body; }); };
    var start = {
      client_info: { user_agent: global.navigator.userAgent, platform: global.navigator.platform || undefined }
    };
    if (options.phoneNumber) start.phone_number = options.phoneNumber;
    if (options.useCase) start.use_case = options.useCase;
    var state = (await post(base + "/verification/start", start)).body;
    // The server moves past Magical Auth only on an outcome it saw itself (Glide's answer) or at
    // the step's timeout: when it saw none (the person closed the prompt), the attempt's own
    // error is the answer.
    var magicalAuthFailed = async function (reason, cause) {
      try {
        return await advance({ event: "step_failed", step: state.step, reason: reason });
      } catch (err) {
        if (cause && err && err.code === "SESSION_NOT_ELIGIBLE") throw cause;
        throw err;
      }
    };
    var last = {};
    var codeError = null;
    for (;;) {
      if (state.step === "verified") {
        last.verified = true;
        last.step = "verified";
        return last;
      }
      if (state.step === "failed") {
        throw new GlideError(state.reason === "risk_denied" ? "RISK_POLICY_DENIED" : "VERIFICATION_FAILED",
          "The verification could not be completed (" + (state.reason || "failed") + ").", 0, state);
      }
      var next = state.next || {};
      if (next.action === "magical_auth") {
        try {
          last = await verify(Object.assign({}, options, {
            chain: false, phoneNumber: next.phone_number, useCase: next.use_case
          }));
          if (last.verified === false) {
            state = await magicalAuthFailed("denied", null);
          } else {
            state = (await get(base + "/verification")).body;
          }
        } catch (e) {
          if (e && e.code === "RISK_POLICY_DENIED") throw e;
          state = await magicalAuthFailed(stepOutcome(e), e);
        }
      } else if (next.action === "send") {
        state = await advance({ event: "send", step: state.step });
      } else if (next.action === "carrier_check") {
        if (typeof options.onCarrierCheck !== "function") {
          state = await advance({ event: "step_failed", step: state.step, reason: "not_eligible" });
        } else {
          var token = await options.onCarrierCheck({ authUrl: next.auth_url });
          last = { strategy: "magic" };
          state = await advance({ event: "token", step: state.step, token: token });
        }
      } else if (next.action === "enter_code") {
        if (typeof options.onCode !== "function") {
          throw new GlideError("UNSUPPORTED_STRATEGY", "Pass onCode to let the person type the code.");
        }
        var answer = await options.onCode({
          channel: state.step, channels: next.channels || [], attemptsLeft: state.attempts_left, error: codeError
        });
        codeError = null;
        if (answer && answer.resend) {
          state = await advance({ event: "send", step: state.step });
        } else if (answer && answer.choose) {
          state = await advance({ event: "choose", step: state.step, channel: answer.choose });
        } else {
          try {
            var checked = await post(base + "/verification/advance", { event: "code", step: state.step, code: String(answer) });
            last = { strategy: state.step };
            state = checked.body;
          } catch (e) {
            if (!e || e.code !== "INVALID_CODE") throw e;
            codeError = e;
            state = (await get(base + "/verification")).body;
          }
        }
      } else {
        throw new GlideError("UNSUPPORTED_STRATEGY", "Unknown next action " + next.action);
      }
    }
  }

  async function verify(options) {
    options = options || {};
    if (options.chain) return runChain(options);
    var base = options.basePath || "/api/magical-auth";
    var status = options.onStatus || function () {};
    var timeoutMs = options.timeoutMs || 300000;
    var useCase = options.useCase || (options.phoneNumber ? "VerifyPhoneNumber" : "GetPhoneNumber");
    var request = {
      use_case: useCase,
      client_info: { user_agent: global.navigator.userAgent, platform: global.navigator.platform || undefined },
      id: "web-" + Date.now() + "-" + Math.random().toString(36).slice(2, 11)
    };
    if (options.phoneNumber) request.phone_number = options.phoneNumber;
    if (options.strategy) request.authentication_strategy = options.strategy;

    status("preparing");
    var prepared = (await post(base + "/prepare", request)).body;
    var session = prepared.session;
    var strategy = prepared.authentication_strategy;
    // Analytics only: never let it fail the flow.
    post(base + "/report-invocation", { session_id: session.session_key }).catch(function () {});

    var credential;
    if (strategy === "ts43") {
      status("prompting");
      credential = await ts43(prepared);
    } else if (strategy === "link") {
      status("waiting-for-link", { url: prepared.data.url });
      (options.openLink || function (url) { global.open(url, "_blank"); })(prepared.data.url);
      credential = await waitForSignal(session.session_key, timeoutMs);
    } else if (strategy === "desktop") {
      var qr = (prepared.data && prepared.data.data) || {};
      if (typeof options.onQrCode !== "function") {
        throw new GlideError("UNSUPPORTED_STRATEGY", "Pass onQrCode to show the desktop QR code.");
      }
      options.onQrCode({
        image: qr.qr_image || qr.qr_code_image || qr.ios_qr_image,
        url: qr.url || qr.ios_url,
        challenge: prepared.challenge || qr.challenge || null
      });
      status("waiting-for-phone");
      credential = qr.session_id || session.session_key;
    } else {
      throw new GlideError("UNSUPPORTED_STRATEGY", "Unknown strategy " + strategy);
    }

    status("processing");
    var deadline = Date.now() + timeoutMs;
    for (;;) {
      var answer = await post(base + "/process", { session: session, credential: credential, use_case: useCase });
      if (answer.status !== 202) {
        var result = answer.body || {};
        result.strategy = strategy;
        return result;
      }
      if (Date.now() > deadline) throw new GlideError("TIMEOUT", "The phone did not finish in time.");
    }
  }

  async function stepUp(request, options) {
    var response = await request();
    if (response.status !== 401) return response;
    var body = await response.clone().json().catch(function () { return null; });
    if (!body || body.code !== "STEP_UP_REQUIRED") return response;
    var strategies = body.strategies || null;
    var chosen = Object.assign({}, options || {});
    // A verification by Magical Auth, unless the action accepts none of its strategies.
    var magical = !strategies || strategies.some(function (s) { return s === "ts43" || s === "link" || s === "desktop"; });
    if (!magical) {
      throw new GlideError("STEP_UP_REQUIRED", body.message || "A stronger verification is required.", 401, body);
    }
    if (typeof chosen.onStepUp === "function") chosen.onStepUp(body);
    var result = await verify(chosen);
    if (result.verified === false) {
      throw new GlideError("NOT_VERIFIED", "The carrier did not verify this number.", 401, result);
    }
    return request();
  }

  function basePath(options) {
    return (options && options.basePath) || "/api/magical-auth";
  }

  function logout(options) {
    return post(basePath(options) + "/logout", {});
  }

  function sessions(options) {
    return get(basePath(options) + "/sessions").then(function (answer) {
      return (answer.body && answer.body.sessions) || [];
    });
  }

  function revokeSession(handle, options) {
    return post(basePath(options) + "/sessions/revoke", { handle: handle });
  }

  function revokeOtherSessions(options) {
    return post(basePath(options) + "/sessions/revoke-others", {});
  }

  function revokeAllSessions(options) {
    return post(basePath(options) + "/sessions/revoke-all", {});
  }

  global.GlideAuth = {
    verify: verify,
    stepUp: stepUp,
    logout: logout,
    sessions: sessions,
    revokeSession: revokeSession,
    revokeOtherSessions: revokeOtherSessions,
    revokeAllSessions: revokeAllSessions,
    GlideError: GlideError
  };
})(window);
