"""The dashboard's browser session over real HTTP: the refresh token only ever travels in an
HttpOnly, SameSite=Strict cookie scoped to the session path; each cookie works once; signing
out ends the session on the server, not just in the browser."""

from __future__ import annotations

from http.cookies import SimpleCookie

PAGE = {"X-Homei-Session": "1"}


def _cookie(response) -> SimpleCookie:
    jar = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        jar.load(header)
    return jar


async def _sign_in(homei):
    return await homei.client.post(
        "/api/v1/auth/session",
        json={"username": "admin", "password": homei.admin_password},
        headers=PAGE,
    )


async def test_sign_in_sets_an_httponly_strict_cookie_and_answers_no_refresh_token(homei):
    response = await _sign_in(homei)
    assert response.status == 201, await response.text()
    body = await response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "user"}
    assert response.headers["Cache-Control"] == "no-store"
    morsel = _cookie(response)["homei_session"]
    assert morsel["httponly"] and morsel["samesite"] == "Strict"
    assert morsel["path"] == "/api/v1/auth/session"
    assert int(morsel["max-age"]) == 7 * 86400
    me = await homei.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status == 200


async def test_without_the_page_header_nothing_happens(homei):
    response = await homei.client.post(
        "/api/v1/auth/session", json={"username": "admin", "password": homei.admin_password}
    )
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "UNAUTHORIZED"
    assert "Set-Cookie" not in response.headers


async def test_a_cookie_works_once_and_signing_out_ends_the_session(homei):
    first = _cookie(await _sign_in(homei))["homei_session"].value

    homei.client.session.cookie_jar.clear()
    resumed = await homei.client.post(
        "/api/v1/auth/session/refresh", headers={**PAGE, "Cookie": f"homei_session={first}"}
    )
    assert resumed.status == 200, await resumed.text()
    second = _cookie(resumed)["homei_session"].value
    assert second != first and (await resumed.json())["access_token"]

    # The same cookie again: a stolen copy is being replayed, so the whole session ends.
    homei.client.session.cookie_jar.clear()
    replay = await homei.client.post(
        "/api/v1/auth/session/refresh", headers={**PAGE, "Cookie": f"homei_session={first}"}
    )
    assert replay.status == 401
    homei.client.session.cookie_jar.clear()
    after = await homei.client.post(
        "/api/v1/auth/session/refresh", headers={**PAGE, "Cookie": f"homei_session={second}"}
    )
    assert after.status == 401

    third = _cookie(await _sign_in(homei))["homei_session"].value
    homei.client.session.cookie_jar.clear()
    out = await homei.client.delete(
        "/api/v1/auth/session", headers={**PAGE, "Cookie": f"homei_session={third}"}
    )
    assert out.status == 200 and (await out.json())["message"] == "Signed out"
    assert _cookie(out)["homei_session"].value == ""
    homei.client.session.cookie_jar.clear()
    gone = await homei.client.post(
        "/api/v1/auth/session/refresh", headers={**PAGE, "Cookie": f"homei_session={third}"}
    )
    assert gone.status == 401
    homei.client.session.cookie_jar.clear()
    again = await homei.client.delete(
        "/api/v1/auth/session", headers={**PAGE, "Cookie": f"homei_session={third}"}
    )
    assert again.status == 200 and (await again.json())["message"] == "No session was open"
