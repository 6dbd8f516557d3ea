#!/usr/bin/env python3
"""Runs Glide's official legacy Python SDK (glide-sdk 1.0.8 on PyPI), unchanged, against a
running sandbox: every call the SDK offers. Not part of CI.

    python3 -m venv /tmp/glide-venv && /tmp/glide-venv/bin/pip install glide-sdk==1.0.8
    cargo run -p glide-sandbox &            # http://127.0.0.1:8910
    /tmp/glide-venv/bin/python glide-sandbox/scripts/python_sdk_smoke.py [BASE_URL]

Exits non-zero on the first divergence.
"""

import asyncio
import json
import sys
import urllib.parse
import urllib.request

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8910"

from glide_sdk import GlideClient  # noqa: E402
from glide_sdk.src.glide_sdk.services.sim_swap import (  # noqa: E402
    SimSwapCheckParams,
    SimSwapRetrieveDateParams,
)
from glide_sdk.src.glide_sdk.services.kyc_match import KycMatchPayload  # noqa: E402


def sandbox_otp(**target):
    request = urllib.request.Request(
        f"{BASE}/sandbox/legacy/otp",
        data=json.dumps(target).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)["code"]


def get(url):
    """GET following redirects; returns (status, headers, body)."""
    with urllib.request.urlopen(url) as answer:
        return answer.status, answer.headers, answer.read()


def check(label, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + label + (f": {detail}" if detail else ""))
    if not condition:
        sys.exit(1)


async def main():
    glide = GlideClient(
        client_id="sandbox-client",
        client_secret="sandbox-secret",
        use_env=False,
        auth_base_url=BASE,
        api_base_url=BASE,
    )

    # --- Magic Auth: client flow (MAGIC), fallbacks, e-mail, server flow
    started = await glide.magic_auth.start_auth(phone_number="+15555550100")
    check("magic_auth.start_auth MAGIC", started.type == "MAGIC", started)
    _, headers, _ = get(started.authUrl)
    token = headers.get("token")
    check("authUrl answers the token header", bool(token))
    verified = await glide.magic_auth.verify_auth(phone_number="+15555550100", token=token)
    check("magic_auth.verify_auth(token)", verified.verified is True, verified)

    sms = await glide.magic_auth.start_auth(phone_number="+15555550106", fallback_channel="SMS")
    check("start_auth not eligible → SMS", sms.type == "SMS", sms)
    code = sandbox_otp(phone_number="+15555550106")
    verified = await glide.magic_auth.verify_auth(phone_number="+15555550106", code=code)
    check("verify_auth(phone, code)", verified.verified is True, verified)

    email = await glide.magic_auth.start_auth(phone_number="+15555550109", fallback_channel="EMAIL")
    check("start_auth +15555550109 EMAIL without address → EMAIL", email.type == "EMAIL", email)
    code = sandbox_otp(phone_number="+15555550109")
    verified = await glide.magic_auth.verify_auth(phone_number="+15555550109", code=code)
    check("verify_auth(phone, e-mailed code)", verified.verified is True, verified)

    by_email = await glide.magic_auth.start_auth(email="ann@example.com")
    check("start_auth(email)", by_email.type == "EMAIL", by_email)
    code = sandbox_otp(email="ann@example.com")
    verified = await glide.magic_auth.verify_auth(email="ann@example.com", code=code)
    check("verify_auth(email, code)", verified.verified is True, verified)

    server = await glide.magic_auth.start_server_auth(
        phone_number="+15555550100", otp_confirmation_url="https://app.example/otp"
    )
    check("start_server_auth", bool(server.sessionId and server.authUrl), server)
    pending = await glide.magic_auth.check_server_auth(session_id=server.sessionId)
    check("check_server_auth PENDING", pending.status == "PENDING" and not pending.verified, pending)
    get(server.authUrl + "?decision=approve")
    done = await glide.magic_auth.check_server_auth(session_id=server.sessionId)
    check("check_server_auth COMPLETED", done.status == "COMPLETED" and done.verified, done)

    # --- Number Verify: auth URL (dev_print), code exchange, operator, verify
    url = await glide.number_verify.get_auth_url(use_dev_number="+15555550100", print_code=True)
    check("get_auth_url on the auth base", url.startswith(f"{BASE}/oauth2/auth?"), url)
    _, _, body = get(url)
    nv_code = json.loads(body)["code"]
    user = await glide.number_verify.for_user(code=nv_code, phone_number="+15555550100")
    operator = await user.get_operator()
    check("number_verify get_operator()", operator == "sandbox-mobile", operator)
    nv = await user.verify_number()
    check("verify_number()", nv.devicePhoneNumberVerified is True, nv)
    from glide_sdk.src.glide_sdk.services.number_verify import NumberVerifyInput

    nv = await user.verify_number(NumberVerifyInput(phoneNumber="+15555550199"))
    check("verify_number(other)", nv.devicePhoneNumberVerified is False, nv)

    # --- SIM swap over CIBA, every fixture
    for number, swapped_24h in [
        ("+1 555 555 0100", False),
        ("+15555550101", True),
        ("+15555550103", False),
        ("+15555550109", True),
        ("+15555550142", False),
    ]:
        swap = await glide.sim_swap.for_user(phone_number=number)
        date = await swap.retrieve_date()
        check(f"sim_swap {number} retrieve_date", bool(date.latestSimChange), date)
        result = await swap.check()
        check(f"sim_swap {number} check()", isinstance(result.swapped, bool), result)
        digits = "+" + "".join(c for c in number if c.isdigit())
        result = await swap.check(SimSwapCheckParams(phoneNumber=digits, maxAge=24))
        check(f"sim_swap {number} check(maxAge=24)", result.swapped == swapped_24h, result)
        date = await swap.retrieve_date(SimSwapRetrieveDateParams(phoneNumber=digits))
        check(f"sim_swap {number} retrieve_date(params)", bool(date.latestSimChange), date)
    swap = await glide.sim_swap.for_user(phone_number="+15555550104")
    try:
        await swap.retrieve_date()
        check("sim_swap +15555550104 refused", False)
    except Exception as error:
        # The SDK raises FetchError(status, reason, body) on ≥ 400, but its own handler then
        # reads `e.response.status`, which FetchError lacks: an AttributeError whose context is
        # the FetchError (an SDK bug, noted in the reference).
        fetch_error = error if hasattr(error, "status") else error.__context__
        status = getattr(fetch_error, "status", None)
        body = getattr(fetch_error, "data", "")
        check(
            "sim_swap +15555550104 carrier not supported (422 SERVICE_NOT_APPLICABLE)",
            status == 422 and "SERVICE_NOT_APPLICABLE" in body,
            f"{type(error).__name__}: {status} {body}",
        )
    by_ip = await glide.sim_swap.for_user(ip_address="203.0.113.7")
    check("sim_swap for_user(ip_address) CIBA", bool(by_ip.auth_req_id))

    # --- Telco Finder
    network = await glide.telco_finder.network_id_for_number("+1 (555) 555-0100")
    check("telco_finder.network_id_for_number", network.networkId == "00101", network)
    found = await glide.telco_finder.lookup_number("+15555550100")
    check("telco_finder.lookup_number", found.properties.operatorId == "sandbox-mobile", found)
    found = await glide.telco_finder.lookup_ip("203.0.113.7")
    check("telco_finder.lookup_ip", found.subject == "ipport:203.0.113.7" and found.links, found)

    # --- KYC match over CIBA
    kyc = await glide.kyc_match.for_user(phone_number="+15555550100")
    fields = {name: None for name in KycMatchPayload.model_fields}
    fields.update(
        phoneNumber="+15555550100",
        idDocument="66666666q",
        name="Alex Sandbox Rivera",
        giventName="Alex",
        familyName="Smith",
        email="user-0100@example.com",
    )
    matched = await kyc.match(KycMatchPayload(**fields))
    check(
        "kyc_match.match",
        matched.idDocumentMatch == "true"
        and matched.giventNameMatch == "true"
        and matched.familyNameMatch == "false"
        and matched.addressMatch == "not_available",
        matched,
    )
    print("all SDK calls answered as expected")


asyncio.run(main())
