(function () {
  "use strict";

  var mode = document.body.getAttribute("data-mode");
  var sandboxBase = document.body.getAttribute("data-sandbox") || "";
  var API = "/api/magical-auth";
  // The sandbox sends Link completions to 127.0.0.1; the completion page signals this tab
  // through localStorage, which is per origin: stay on the same host.
  if (mode === "sandbox" && location.hostname === "localhost") {
    location.replace(location.href.replace("//localhost", "//127.0.0.1"));
    return;
  }

  function $(id) { return document.getElementById(id); }
  var buttons = [$("btn-ts43"), $("btn-link"), $("btn-desktop")];
  var STRATEGY_NAMES = { ts43: "Android · TS43", link: "iPhone · Link", desktop: "Desktop · QR code",
    magic: "Magic link", sms: "SMS code", email: "Email code", number_verify: "Number Verify" };
  var LEVELS = { RISK_LEVEL_LOW: "low", RISK_LEVEL_MEDIUM: "medium", RISK_LEVEL_HIGH: "high", RISK_LEVEL_UNKNOWN: "unknown" };
  var FRIENDLY = {
    CARRIER_NOT_ELIGIBLE: ["Carrier not eligible", "This carrier cannot verify silently; use a code instead."],
    USER_CANCELLED: ["Declined", "The request was declined on the phone. Nothing was shared."],
    USER_DENIED: ["Declined", "The request was declined on the phone. Nothing was shared."],
    BROWSER_NOT_SUPPORTED: ["This browser can't do that", "This browser cannot share a phone credential. Try another way to verify."],
    TIMEOUT: ["Took too long", "The verification was not finished in time. Try again when you're ready."],
    NETWORK_ERROR: ["Connection issue", "The server could not be reached. Check your connection and try again."],
    VALIDATION_ERROR: ["Check the number", "That does not look like a phone number. Use the international format, like +15555550100."],
    RATE_LIMIT_EXCEEDED: ["Too many attempts", "Please wait a moment before trying again."],
    MISSING_BINDING_COOKIE: ["Finish in this browser", "The carrier page must be finished in the browser where you started."],
    DEVICE_BINDING_FAILED: ["Finish in this browser", "The carrier page must be finished in the browser where you started."],
    BROWSER_MISMATCH: ["Finish in this browser", "The carrier page must be finished in the browser where you started."],
    SESSION_EXPIRED: ["Session expired", "This verification expired. Please start again."],
    SESSION_NOT_FOUND: ["Verification ended", "This verification is no longer available. Please start again."],
    VERIFICATION_FAILED: ["Not verified", "The carrier could not confirm the number."],
    ORIGIN_NOT_ALLOWED: ["Blocked", "This page is not allowed to call the verification routes."],
    UNSUPPORTED_PLATFORM: ["This device can't do that", "This device cannot verify silently. Try another way to verify."],
    NUMBER_VERIFY_FAILED: ["Not verified", "The mobile operator could not confirm that this device has that number."],
    NOT_VERIFIED: ["Not verified", "The verification did not start a session. Please try again."]
  };
  // Magical Auth answers after which the page offers the one-time code instead.
  var FALLBACK_CODES = { CARRIER_NOT_ELIGIBLE: true, UNSUPPORTED_PLATFORM: true, BROWSER_NOT_SUPPORTED: true };
  var NV_PENDING = "glide-demo-number-verify";

  var flow = 0; // the current flow; answers of an abandoned one are ignored
  var pendingTab = null;

  $("mode-badge").textContent = mode === "sandbox" ? "sandbox" : "live";
  $("foot-mode").textContent = mode === "sandbox"
    ? "Running against the embedded Glide sandbox: no real carrier is contacted."
    : "Running against Glide Identity.";
  if (mode === "sandbox") $("fixtures").hidden = false;

  // ---- inputs ------------------------------------------------------------------------------
  function useCase() {
    return $("uc-get").checked ? "GetPhoneNumber" : "VerifyPhoneNumber";
  }
  function syncUseCase() {
    var get = useCase() === "GetPhoneNumber";
    $("phone").disabled = get;
    $("phone-hint").textContent = get
      ? "The carrier tells us which number this device has."
      : "International format, with the country code.";
  }
  $("uc-verify").addEventListener("change", syncUseCase);
  $("uc-get").addEventListener("change", syncUseCase);
  Array.prototype.forEach.call(document.querySelectorAll(".fixture"), function (b) {
    b.addEventListener("click", function () {
      $("uc-verify").checked = true;
      syncUseCase();
      $("phone").value = b.getAttribute("data-number");
      $("phone").focus();
    });
  });

  // ---- progress ----------------------------------------------------------------------------
  var STEPS = ["step-prepare", "step-carrier", "step-process"];
  function step(active) {
    STEPS.forEach(function (id, i) {
      $(id).className = i < active ? "done" : i === active ? "active" : "";
    });
  }
  function progress(title, detail, stepIndex) {
    $("progress").hidden = false;
    $("status-title").textContent = title;
    $("status-detail").textContent = detail || "";
    if (stepIndex !== undefined) step(stepIndex);
  }
  function reveal(id) {
    var el = $(id);
    if (el && !el.hidden && el.scrollIntoView) el.scrollIntoView({ behavior: "smooth", block: "nearest" });
  }
  function setBusy(busy) {
    buttons.forEach(function (b) { b.disabled = busy; });
    if (!busy) {
      $("progress").hidden = true;
      $("qr-box").hidden = true;
      $("link-box").hidden = true;
    }
  }
  // The desktop QR code, for every flow that can end on a desktop.
  function showQr(qr) {
    $("qr").src = qr.image || "";
    $("qr-link").href = qr.url || "#";
    $("qr-box").hidden = false;
    reveal("progress");
  }
  function onStatus(strategy) {
    return function (stage, detail) {
      if (stage === "preparing") progress("Contacting the carrier…", "Preparing a verification session.", 0);
      else if (stage === "prompting") progress("Waiting for your phone…", "Confirm sharing your number in the prompt.", 1);
      else if (stage === "waiting-for-link") {
        progress("Finish on the carrier's page", "It opened in a new tab; this page carries on when you approve there.", 1);
        if (detail && detail.url) {
          $("link-open").href = detail.url;
          $("link-box").hidden = false;
        }
      } else if (stage === "waiting-for-phone") progress("Scan the QR code", "Waiting for your phone to confirm.", 1);
      else if (stage === "processing") {
        // A desktop flow's process call is where the server waits for the phone.
        if (strategy === "desktop") progress("Scan the QR code", "Waiting for your phone to confirm.", 1);
        else progress("Confirming with the carrier…", "Almost done.", 2);
      }
    };
  }

  // ---- results -----------------------------------------------------------------------------
  function hideOutcome() {
    $("error").hidden = true;
    $("result").hidden = true;
    hideFallback();
  }
  function showError(error) {
    var code = (error && error.code) || "ERROR";
    var friendly = FRIENDLY[code];
    $("error-title").textContent = friendly ? friendly[0] : "Verification failed";
    $("error-text").textContent = friendly ? friendly[1] : ((error && error.message) || "Please try again.");
    $("error-code").textContent = code + (error && error.status ? " · HTTP " + error.status : "");
    $("error").hidden = false;
    reveal("error");
  }
  function formatPhone(number) {
    var m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(number || "");
    return m ? "+1 " + m[1] + " " + m[2] + " " + m[3] : (number || "—");
  }
  function fillSignal(id, info) {
    var el = $(id);
    var level = "none", text = "No signal", detail = "The carrier gave no signal.";
    if (info) {
      if (info.checked && info.risk_level) {
        level = LEVELS[info.risk_level] || "unknown";
        text = level === "unknown" ? "Unknown risk" : level.charAt(0).toUpperCase() + level.slice(1) + " risk";
      } else if (info.checked) {
        level = "unknown"; text = "Checked";
      } else {
        level = "none"; text = "Not checked";
      }
      var parts = [];
      if (info.age_band) parts.push("changed " + info.age_band.replace(/^older than query window$/, "longer ago than the carrier looks back"));
      if (info.carrier_name) parts.push(info.carrier_name);
      if (info.reason) parts.push(info.reason.replace(/_/g, " "));
      detail = parts.length ? parts.join(" · ") : (info.checked ? "" : "The carrier could not tell.");
    }
    el.setAttribute("data-level", level);
    el.querySelector(".level").textContent = text;
    el.querySelector(".detail").textContent = detail;
  }
  // A verification the risk policy refused (403 RISK_POLICY_DENIED, the signals in the body): the
  // same result card on every path, Magical Auth or code.
  function showDenied(body, strategy) {
    showResult(body, strategy, "denied",
      "The number was verified, but its signals are too risky for this app's policy: no session was started.");
  }
  function isDenial(error) {
    return !!(error && error.code === "RISK_POLICY_DENIED" && error.body && error.body.phone_number);
  }
  function showResult(body, strategy, decision, message) {
    $("result-phone").textContent = formatPhone(body.phone_number);
    $("result-phone").setAttribute("data-e164", body.phone_number || "");
    $("result-strategy").textContent = STRATEGY_NAMES[strategy] || strategy || "";
    $("result-time").textContent = "verified " + new Date().toLocaleTimeString();
    fillSignal("result-sim", body.sim_swap);
    fillSignal("result-device", body.device_swap);
    var d = $("decision");
    d.setAttribute("data-decision", decision);
    d.textContent = decision === "allowed" ? "Allowed" : decision === "denied" ? "Denied by risk policy" : "Not verified";
    $("decision-text").textContent = message;
    $("result").hidden = false;
    reveal("result");
  }

  // ---- session -----------------------------------------------------------------------------
  function refreshSession(show) {
    return fetch("/me", { credentials: "include", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); })
      .then(function (answer) {
        var state = $("session-state");
        if (answer.status === 200) {
          state.setAttribute("data-state", "verified");
          $("session-text").textContent = "Verified as " + formatPhone(answer.body.phone_number);
          loadSessions();
        } else {
          state.setAttribute("data-state", "none");
          $("session-text").textContent = "Not verified";
          clearSessions();
        }
        if (show) {
          $("me-output").textContent = "GET /me → " + answer.status + "\n" + JSON.stringify(answer.body, null, 2);
          $("me-output").hidden = false;
        }
        return answer;
      })
      .catch(function () {
        $("session-text").textContent = "Session unknown";
      });
  }
  $("btn-me").addEventListener("click", function () { refreshSession(true); });

  // ---- a protected action: POST /transfer behind a step-up guard ------------------------------
  function transferStatus(text, state) {
    $("transfer-status").textContent = text;
    $("transfer-status").setAttribute("data-state", state);
  }
  $("btn-transfer").addEventListener("click", function () {
    transferStatus("Sending…", "busy");
    $("btn-transfer").disabled = true;
    var steppedUp = false;
    refreshSession(false).then(function (me) {
      var phoneNumber = me && me.status === 200 ? me.body.phone_number : undefined;
      return GlideAuth.stepUp(function () {
        return fetch("/transfer", {
          method: "POST",
          credentials: "include",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ amount: 100 })
        });
      }, {
        phoneNumber: phoneNumber,
        onStepUp: function (body) {
          steppedUp = true;
          transferStatus("This action needs a fresh carrier verification (step-up, " +
            (body.max_age_seconds ? "at most " + body.max_age_seconds + " s old" : "stronger") + "): verifying again…", "step-up");
        },
        onQrCode: showQr
      });
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 200 && body.ok) transferStatus(steppedUp
          ? "Transfer sent, after a fresh verification (step-up)." : "Transfer sent: the verification was recent enough.", "sent");
        else transferStatus("Refused: " + (body.code || "HTTP " + response.status) + (body.message ? " — " + body.message : ""), "refused");
      });
    }, function (error) {
      transferStatus("Refused: " + ((error && error.code) || "ERROR"), "refused");
    }).then(function () {
      $("btn-transfer").disabled = false;
      refreshSession(false);
    });
  });

  // ---- the sessions of the verified number -------------------------------------------------
  function clearSessions() {
    $("sessions-list").textContent = "";
    $("sessions").hidden = true;
  }
  function sessionTime(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleString();
  }
  function renderSessions(list) {
    var ul = $("sessions-list");
    ul.textContent = "";
    list.forEach(function (s) {
      var li = document.createElement("li");
      li.setAttribute("data-handle", s.handle);
      li.setAttribute("data-current", s.current ? "true" : "false");
      var text = document.createElement("div");
      var what = document.createElement("div");
      what.className = "what";
      what.textContent = (s.user_agent || "Unknown device") + " · " + (s.ip || "address unknown");
      if (s.current) {
        var badge = document.createElement("span");
        badge.className = "this-device";
        badge.textContent = "this device";
        what.appendChild(badge);
      }
      var when = document.createElement("div");
      when.className = "when";
      when.textContent = "Verified by " + s.strategy + " " + sessionTime(s.created_at) +
        " · last seen " + sessionTime(s.last_seen_at);
      text.appendChild(what);
      text.appendChild(when);
      var revoke = document.createElement("button");
      revoke.type = "button";
      revoke.className = "ghost danger revoke";
      revoke.textContent = s.current ? "Sign out" : "Revoke";
      revoke.addEventListener("click", function () {
        GlideAuth.revokeSession(s.handle).then(function () {
          return refreshSession(false);
        }, showError);
      });
      li.appendChild(text);
      li.appendChild(revoke);
      ul.appendChild(li);
    });
    $("sessions").hidden = list.length === 0;
  }
  function loadSessions() {
    return GlideAuth.sessions().then(renderSessions, function () { clearSessions(); });
  }
  $("sessions-revoke-others").addEventListener("click", function () {
    GlideAuth.revokeOtherSessions().then(loadSessions, showError);
  });
  $("sessions-revoke-all").addEventListener("click", function () {
    GlideAuth.revokeAllSessions().then(function () {
      hideOutcome();
      return refreshSession(true);
    }, showError);
  });
  $("logout").addEventListener("click", function () {
    GlideAuth.logout().then(function () {
      hideOutcome();
      return refreshSession(true);
    }, showError);
  });

  // ---- the flows ---------------------------------------------------------------------------
  function closePendingTab() {
    if (pendingTab && !pendingTab.closed) { try { pendingTab.close(); } catch (e) {} }
    pendingTab = null;
  }

  // ---- the main button: the server's verification chain -------------------------------------
  // GlideAuth.verify({chain: true}) runs Magical Auth, then, as the server says, the carrier
  // check and one-time codes under one attempt budget; the page only types the code.
  var chainCode = null;

  function askCode(number, info) {
    fb.phone = number;
    fb.channel = info.channel === "email" ? "EMAIL" : "SMS";
    $("fallback-phone").textContent = formatPhone(number);
    $("fallback").hidden = false;
    codeSent({ type: fb.channel });
    if (info.error) {
      var left = info.error.body && info.error.body.attempts_left;
      $("attempts").textContent = typeof left === "number"
        ? left + (left === 1 ? " attempt left" : " attempts left") : "";
      fbStatus("That code is not right.", "bad");
    }
    return new Promise(function (resolve) { chainCode = resolve; });
  }

  function startChain() {
    var id = ++flow;
    var phoneNumber = normalizedPhone();
    hideOutcome();
    if (!validPhone(phoneNumber)) {
      showError({ code: "VALIDATION_ERROR" });
      $("phone").focus();
      return;
    }
    setBusy(true);
    $("me-output").hidden = true;
    progress("Starting…", "", 0);
    reveal("progress");
    GlideAuth.verify({
      chain: true,
      phoneNumber: phoneNumber,
      onStatus: onStatus("chain"),
      onQrCode: showQr,
      onCode: function (info) {
        if (id !== flow) return new Promise(function () {});
        progress("Enter the code", "The carrier could not confirm this device; we sent a code.", 1);
        return askCode(phoneNumber, info);
      }
    }).then(function () {
      if (id !== flow) return;
      return verified({}, "The verification chain finished.");
    }, function (error) {
      if (id !== flow) return;
      chainCode = null;
      hideFallback();
      if (isDenial(error)) showDenied(error.body, "chain");
      else showError(error);
    }).then(function () {
      if (id !== flow) return;
      setBusy(false);
    });
  }

  function start(strategy) {
    var id = ++flow;
    var allowed = false;
    var phoneNumber = useCase() === "VerifyPhoneNumber" ? $("phone").value.replace(/[\s().-]/g, "") : undefined;
    if (useCase() === "VerifyPhoneNumber" && !/^\+\d{6,15}$/.test(phoneNumber || "")) {
      hideOutcome();
      showError({ code: "VALIDATION_ERROR" });
      $("phone").focus();
      return;
    }
    hideOutcome();
    setBusy(true);
    $("me-output").hidden = true;
    // Open the carrier tab now, while the click still counts as a user gesture (popup blockers);
    // it is pointed at the carrier page once the server has prepared the session.
    closePendingTab();
    if (strategy === "link") {
      try { pendingTab = window.open("", "_blank"); } catch (e) { pendingTab = null; }
    }
    progress("Starting…", "", 0);
    reveal("progress");
    GlideAuth.verify({
      useCase: useCase(),
      phoneNumber: phoneNumber,
      strategy: strategy,
      onStatus: onStatus(strategy),
      openLink: function (url) {
        if (pendingTab && !pendingTab.closed) {
          pendingTab.location.href = url;
        } else {
          window.open(url, "_blank");
        }
        pendingTab = null;
      },
      onQrCode: showQr
    }).then(function (result) {
      if (id !== flow) return;
      if (result.verified === false) {
        showResult(result, result.strategy, "not-verified",
          "The carrier says this device's number is not " + formatPhone(phoneNumber) + ". No session was started.");
      } else {
        allowed = true;
        showResult(result, result.strategy, "allowed",
          "The risk policy allowed this verification: a verified session started, and handlers now receive it.");
      }
    }, function (error) {
      if (id !== flow) return;
      if (isDenial(error)) {
        showDenied(error.body, strategy);
      } else {
        showError(error);
        if (error && FALLBACK_CODES[error.code] && phoneNumber) offerFallback(phoneNumber);
      }
    }).then(function () {
      if (id !== flow) return;
      closePendingTab();
      setBusy(false);
      refreshSession(false).then(function (answer) {
        if (allowed && answer && answer.status === 200 && answer.body.verified_at) {
          $("result-time").textContent = "verified " + new Date(answer.body.verified_at).toLocaleString();
        }
      });
    });
  }


  // ---- fallback: a one-time code by SMS or e-mail ---------------------------------------------
  // POST {API}/magic-auth/start answers MAGIC (the carrier can check the number: fetch auth_url,
  // post its `token` header), SMS or EMAIL (a code was sent: post it). The engine binds the
  // verification to this browser with an HttpOnly cookie.
  var fb = { phone: null, channel: null, email: null, authUrl: null, timer: null, busy: false };

  function normalizedPhone() {
    return $("phone").value.replace(/[\s().-]/g, "");
  }
  function validPhone(number) {
    return /^\+\d{6,15}$/.test(number || "");
  }
  function fbStatus(text, tone) {
    $("fallback-status").textContent = text || "";
    if (tone) $("fallback-status").setAttribute("data-tone", tone);
    else $("fallback-status").removeAttribute("data-tone");
  }
  function stopCountdown() {
    if (fb.timer) clearInterval(fb.timer);
    fb.timer = null;
    $("resend").disabled = false;
    $("resend").textContent = "Resend code";
  }
  function countdown(seconds) {
    stopCountdown();
    var left = Math.max(1, Math.ceil(seconds));
    var tick = function () {
      if (left <= 0) { stopCountdown(); return; }
      $("resend").disabled = true;
      $("resend").textContent = "Resend in " + left + " s";
      left--;
    };
    tick();
    fb.timer = setInterval(tick, 1000);
  }
  function hideFallback() {
    stopCountdown();
    fb.authUrl = null;
    $("fallback").hidden = true;
  }
  function offerFallback(number) {
    stopCountdown();
    fb.phone = number;
    fb.channel = null;
    fb.authUrl = null;
    $("fallback-phone").textContent = formatPhone(number);
    $("code-box").hidden = true;
    $("carrier-box").hidden = true;
    $("sandbox-inbox").hidden = true;
    $("inbox-code").textContent = "";
    $("attempts").textContent = "";
    $("code").value = "";
    fbStatus("");
    $("fallback").hidden = false;
    reveal("fallback");
  }
  function setFallbackBusy(busy) {
    fb.busy = busy;
    ["fallback-sms", "fallback-email", "code-submit", "carrier-check", "inbox-read"].forEach(function (id) {
      $(id).disabled = busy;
    });
    if (!fb.timer) $("resend").disabled = busy;
  }
  function postJson(path, body) {
    return fetch(API + path, {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (text) {
        var json = {};
        try { json = text ? JSON.parse(text) : {}; } catch (e) { json = {}; }
        return { status: r.status, body: json, retryAfter: Number(r.headers.get("Retry-After")) || 0 };
      });
    });
  }
  function failureText(answer) {
    var code = (answer.body && answer.body.code) || "ERROR";
    if (code === "TOO_MANY_ATTEMPTS") return "Too many wrong codes: this verification is locked. Try again later.";
    if (code === "SESSION_NOT_FOUND" || code === "SESSION_EXPIRED") return "This code request has expired. Send a new code.";
    if (code === "VALIDATION_ERROR") return (answer.body && answer.body.message) || "Check what you typed.";
    var friendly = FRIENDLY[code];
    return (friendly ? friendly[1] : (answer.body && answer.body.message) || "Please try again.") +
      " (" + code + " · HTTP " + answer.status + ")";
  }

  function sendCode(channel) {
    if (fb.busy) return;
    var number = fb.phone || normalizedPhone();
    if (!validPhone(number)) { fbStatus("Enter your phone number in international format first.", "bad"); return; }
    // The e-mail address is the one on file for the number, never typed here: an e-mail code
    // proves an address, not a phone number.
    var body = { phone_number: number, fallback_channel: channel };
    setFallbackBusy(true);
    fbStatus("Sending…");
    postJson("/magic-auth/start", body).then(function (answer) {
      if (answer.status === 200) {
        fb.channel = channel;
        fb.email = channel === "EMAIL" ? demoAddressOnFile(number) : null;
        codeSent(answer.body);
      } else if (answer.status === 429 && answer.body.code === "RATE_LIMIT_EXCEEDED") {
        fbStatus("A code was sent moments ago; you can ask for another one shortly.", "bad");
        countdown(answer.retryAfter || 30);
      } else {
        fbStatus(failureText(answer), "bad");
      }
    }, function () {
      fbStatus(FRIENDLY.NETWORK_ERROR[1], "bad");
    }).then(function () { setFallbackBusy(false); });
  }

  function codeSent(answer) {
    if (answer.type === "MAGIC") {
      fb.authUrl = answer.auth_url || null;
      $("code-box").hidden = true;
      $("carrier-box").hidden = false;
      fbStatus("");
      reveal("carrier-box");
      return;
    }
    var where = answer.type === "EMAIL" ? "the address on file" : formatPhone(fb.phone);
    $("carrier-box").hidden = true;
    $("code-box").hidden = false;
    $("code-label").textContent = "Enter the code we sent " + (answer.type === "EMAIL" ? "by e-mail to " : "by SMS to ") + where;
    $("sandbox-inbox").hidden = !sandboxBase;
    $("inbox-code").textContent = "";
    $("attempts").textContent = "";
    $("code").value = "";
    fbStatus("Code sent.", "ok");
    $("code").focus();
    reveal("code-box");
  }

  // A code or carrier check the risk policy refused (e.g. a SIM swapped hours ago): the result
  // card, as for Magical Auth; the verification is used up, so the code panel goes.
  function codeDenied(answer, strategy) {
    if (!isDenial({ code: answer.body && answer.body.code, body: answer.body })) return false;
    hideFallback();
    $("error").hidden = true;
    showDenied(answer.body, strategy);
    refreshSession(false);
    return true;
  }

  function verified(body, how) {
    hideFallback();
    $("error").hidden = true;
    return refreshSession(false).then(function (answer) {
      var me = answer && answer.status === 200 ? answer.body : body;
      var strategy = me.strategy || body.strategy;
      showResult(me, strategy, "allowed", how + " A verified session started, and handlers now receive it.");
      if (me.verified_at) $("result-time").textContent = "verified " + new Date(me.verified_at).toLocaleString();
    });
  }

  function checkCode() {
    if (fb.busy) return;
    var code = $("code").value.replace(/\s/g, "");
    if (!/^\d{4,10}$/.test(code)) {
      fbStatus("The code is 4 to 10 digits.", "bad");
      $("code").focus();
      return;
    }
    if (chainCode) {
      // The chain asked for this code: it checks it.
      var answer = chainCode;
      chainCode = null;
      fbStatus("Checking…");
      answer(code);
      return;
    }
    setFallbackBusy(true);
    fbStatus("Checking…");
    postJson("/magic-auth/verify", { code: code }).then(function (answer) {
      if (answer.status === 200) {
        return verified(answer.body, fb.channel === "EMAIL"
          ? "The code sent by e-mail was right." : "The code sent by SMS was right.");
      }
      if (codeDenied(answer, fb.channel === "EMAIL" ? "email" : "sms")) return;
      if (answer.status === 401 && answer.body.code === "INVALID_CODE") {
        var left = answer.body.attempts_left;
        $("attempts").textContent = typeof left === "number"
          ? left + (left === 1 ? " attempt left" : " attempts left") : "";
        fbStatus("That code is not right.", "bad");
        $("code").select();
      } else {
        if (answer.body.code === "TOO_MANY_ATTEMPTS") $("attempts").textContent = "0 attempts left";
        fbStatus(failureText(answer), "bad");
      }
    }, function () {
      fbStatus(FRIENDLY.NETWORK_ERROR[1], "bad");
    }).then(function () { setFallbackBusy(false); });
  }

  // The carrier check of a MAGIC answer: the carrier's page answers with a `token` header that
  // proves the number; the engine checks it with Glide.
  function carrierCheck() {
    if (fb.busy || !fb.authUrl) return;
    setFallbackBusy(true);
    fbStatus("Checking with the carrier…");
    fetch(fb.authUrl, { credentials: "omit" }).then(function (r) {
      var token = r.headers.get("token");
      if (!r.ok || !token) throw { carrier: r.status };
      return postJson("/magic-auth/verify", { token: token });
    }).then(function (answer) {
      if (answer.status === 200) return verified(answer.body, "The carrier confirmed the number.");
      if (codeDenied(answer, "magic")) return;
      fbStatus(failureText(answer), "bad");
    }, function (e) {
      fbStatus(e && e.carrier === 403
        ? "The request was declined on the phone. Nothing was shared."
        : "The carrier check did not succeed" + (e && e.carrier ? " (HTTP " + e.carrier + ")." : "."), "bad");
    }).then(function () { setFallbackBusy(false); });
  }

  // The demo's records: the address on file for +1555555DDDD is user-DDDD@example.com.
  function demoAddressOnFile(number) {
    var m = /^\+1555555(\d{4})$/.exec(number || "");
    return m ? "user-" + m[1] + "@example.com" : null;
  }

  // Sandbox only: the sandbox keeps the code it "sent" (POST {sandbox}/sandbox/legacy/otp).
  function readInbox() {
    if (!sandboxBase) return;
    var query = fb.channel === "EMAIL" ? { email: fb.email } : { phone_number: fb.phone };
    $("inbox-code").textContent = "…";
    fetch(sandboxBase + "/sandbox/legacy/otp", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(query)
    }).then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); })
      .then(function (answer) {
        $("inbox-code").textContent = answer.status === 200 && answer.body.code
          ? answer.body.code : "no code (HTTP " + answer.status + ")";
      }, function () { $("inbox-code").textContent = "the sandbox did not answer"; });
  }

  $("fallback-sms").addEventListener("click", function () { sendCode("SMS"); });
  $("fallback-email").addEventListener("click", function () { sendCode("EMAIL"); });
  $("resend").addEventListener("click", function () {
    if (chainCode) { var answer = chainCode; chainCode = null; answer({ resend: true }); return; }
    if (fb.channel) sendCode(fb.channel);
  });
  $("code-submit").addEventListener("click", checkCode);
  $("code").addEventListener("keydown", function (e) { if (e.key === "Enter") checkCode(); });
  $("carrier-check").addEventListener("click", carrierCheck);
  $("inbox-read").addEventListener("click", readInbox);
  $("btn-verify").addEventListener("click", startChain);
  $("btn-code").addEventListener("click", function () {
    var number = normalizedPhone();
    hideOutcome();
    if (!validPhone(number)) { showError({ code: "VALIDATION_ERROR" }); $("phone").focus(); return; }
    offerFallback(number);
  });

  // ---- Number Verify: the operator's OAuth redirect flow ---------------------------------------
  // The engine redirects to the operator and back to its callback, which starts the session and
  // sends the browser back here (or here with ?verification=failed).
  $("btn-number-verify").addEventListener("click", function () {
    var number = normalizedPhone();
    hideOutcome();
    if (!validPhone(number)) { showError({ code: "VALIDATION_ERROR" }); $("phone").focus(); return; }
    try { sessionStorage.setItem(NV_PENDING, number); } catch (e) {}
    location.href = API + "/number-verify/start?phone_number=" + encodeURIComponent(number);
  });

  function numberVerifyReturn() {
    var failed = /(?:^|[?&])verification=failed(?:&|$)/.test(location.search);
    var pending = null;
    try { pending = sessionStorage.getItem(NV_PENDING); sessionStorage.removeItem(NV_PENDING); } catch (e) {}
    if (!failed && !pending) return false;
    if (history.replaceState) history.replaceState(null, "", location.pathname);
    if (pending) { $("uc-verify").checked = true; $("phone").value = pending; }
    if (failed) {
      showError({ code: "NUMBER_VERIFY_FAILED" });
      refreshSession(false);
      return true;
    }
    refreshSession(false).then(function (answer) {
      if (answer && answer.status === 200 && answer.body.strategy === "number_verify") {
        showResult(answer.body, "number_verify", "allowed",
          "The mobile operator confirmed this device's number. A verified session started, and handlers now receive it.");
        if (answer.body.verified_at) $("result-time").textContent = "verified " + new Date(answer.body.verified_at).toLocaleString();
      } else {
        showError({ code: "NOT_VERIFIED", status: answer && answer.status });
      }
    });
    return true;
  }

  buttons.forEach(function (b) {
    b.addEventListener("click", function () { start(b.getAttribute("data-strategy")); });
  });
  $("btn-cancel").addEventListener("click", function () {
    flow++;
    closePendingTab();
    setBusy(false);
  });

  syncUseCase();
  if (!numberVerifyReturn()) refreshSession(false);
})();
